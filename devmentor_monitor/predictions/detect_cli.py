"""`devmentor-monitor detect FILE.csv --output OUT.csv`: the live detector over a CSV.

It runs the very `Detector` the monitor uses live, one row at a time (no look-ahead), and
writes the input columns plus `anomaly_score` in [0, 1], one row per input row: the format
the NAB scorer reads. The `timestamp` column (ISO 8601, naive means UTC, or epoch seconds)
feeds the time-of-day expert; without one that expert stays silent. This module imports
only the standard library at import time (the detector module comes when the command
runs), so `cli.py` can register it cheaply and the command starts fast when a scorer runs
it once per file.

Exit codes: 0 ok; 2 for a bad input file (missing, no `value` column, a value that is not
a number: one line naming file and line); 1 when the output cannot be written.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TextIO

PROG = "devmentor-monitor"


class InputError(Exception):
    """The input file cannot be used; the message names the file (and line)."""


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register `detect` on the top-level sub-command parser."""
    parser = subparsers.add_parser(
        "detect",
        help="score a timestamp,value CSV with the anomaly detector",
        description="Run the streaming anomaly detector over a CSV with a `value` column "
        "(NAB format: timestamp,value) and write the input columns plus "
        "`anomaly_score` in [0, 1], one row per input row. Each score uses "
        "that row and the rows before it only.",
    )
    parser.add_argument("file", metavar="FILE.csv", help="input CSV with a header row")
    parser.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="OUT.csv",
        help="where to write the scored CSV ('-' for stdout)",
    )
    parser.add_argument(
        "--column", default="value", help="name of the column to score (default: value)"
    )
    parser.add_argument(
        "--time-column",
        default="timestamp",
        help="name of the time column: ISO 8601 (naive = UTC) or epoch seconds "
        "(default: timestamp; absent: no time-of-day expert)",
    )
    return parser


def read_values(
    path: str, column: str, time_column: str = "timestamp"
) -> tuple[list[str], list[list[str]], list[float], list[float]]:
    """Header, rows, the parsed column and the times (epoch seconds; NaN when the file has
    no time column); empty or 'nan' cells are missing samples (NaN)."""
    import csv  # here: every other command starts without it

    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: empty file (expected a header with '{column}')")
            names = [h.strip() for h in header]
            if column not in names:
                raise InputError(f"{path}:1: no '{column}' column in header {names}")
            col = names.index(column)
            tcol = names.index(time_column) if time_column in names else -1
            rows: list[list[str]] = []
            values: list[float] = []
            times: list[float] = []
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) <= col:
                    raise InputError(
                        f"{path}:{line}: {len(row)} fields, expected '{column}' in field {col + 1}"
                    )
                values.append(_number(row[col], path, line))
                times.append(_time(row[tcol], path, line) if 0 <= tcol < len(row) else math.nan)
                rows.append(row)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV: {exc}") from None
    return names, rows, values, times


def _time(text: str, path: str, line: int) -> float:
    """Epoch seconds of a time cell: ISO 8601 first (naive = UTC; 20240101 is a date),
    else a number of seconds, or of milliseconds past 1e11 (year 5138 in seconds); a blank
    cell is an unknown time (NaN)."""
    from datetime import UTC, datetime

    cell = text.strip()
    if not cell:
        return math.nan
    # fromisoformat reads any run of digits as a basic-format date ("1704070200000" is
    # the year 1704): plain numbers are epoch times, except the 8-digit date 20240101.
    if not cell.lstrip("-").replace(".", "", 1).isdigit() or len(cell) == 8:
        try:
            when = datetime.fromisoformat(cell)
        except ValueError:
            pass
        else:
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    try:
        seconds = float(cell)
    except ValueError:
        raise InputError(
            f"{path}:{line}: time {cell[:40]!r} is neither ISO 8601 nor epoch seconds"
        ) from None
    return seconds / 1000.0 if abs(seconds) > 1e11 else seconds


def _number(text: str, path: str, line: int) -> float:
    cell = text.strip()
    if cell == "" or cell.lower() == "nan":
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"{path}:{line}: value {cell[:40]!r} is not a number") from None
    if math.isinf(value):
        raise InputError(f"{path}:{line}: value {cell[:40]!r} is not finite")
    return value


def score_values(values: list[float], times: list[float] | None = None) -> list[float]:
    """The live detector over a whole series, one sample at a time."""
    from devmentor_monitor.predictions.detector import Detector

    det = Detector()
    update = det.update
    if times is None:
        times = [math.nan] * len(values)
    return [update(t, v).score for t, v in zip(times, values, strict=True)]


def run(args: argparse.Namespace) -> int:
    try:
        header, rows, values, times = read_values(args.file, args.column, args.time_column)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    scores = score_values(values, times)
    try:
        if args.output == "-":
            _write(sys.stdout, header, rows, scores)
        else:
            with Path(args.output).open("w", newline="", encoding="utf-8") as f:
                _write(f, header, rows, scores)
    except OSError as exc:
        print(f"{PROG}: error: {args.output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _write(stream: TextIO, header: list[str], rows: list[list[str]], scores: list[float]) -> None:
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*header, "anomaly_score"])
    pad = [""] * len(header)
    for row, score in zip(rows, scores, strict=True):  # short rows padded: scores line up
        writer.writerow([*row, *pad[len(row) :], f"{score:.6g}"])
