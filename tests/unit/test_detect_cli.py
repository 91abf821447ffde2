"""`devmentor-monitor detect`: the detector over a CSV, run as a real subprocess."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "devmentor_monitor.cli"]


def _detect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "detect", *args], capture_output=True, text=True, timeout=60)


def _write_series(path: Path, n: int = 600, jump_at: int = 450) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        for i in range(n):
            value = 10.0 + math.sin(i / 7.0) + (25.0 if i >= jump_at else 0.0)
            w.writerow([f"2024-01-01 00:{i // 60:02d}:{i % 60:02d}", f"{value:.4f}"])


def test_detect_writes_one_score_per_row_and_flags_the_jump(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write_series(src)
    proc = _detect(str(src), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    with src.open() as f:
        rows_in = list(csv.reader(f))
    with out.open() as f:
        rows_out = list(csv.reader(f))
    assert rows_out[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows_out) == len(rows_in)
    assert [r[:2] for r in rows_out] == rows_in  # input columns unchanged
    scores = [float(r[2]) for r in rows_out[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(range(len(scores)), key=scores.__getitem__) == 450


def test_bad_value_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("timestamp,value\n2024-01-01 00:00:00,1.0\n2024-01-01 00:00:05,oops\n")
    proc = _detect(str(src), "--output", str(tmp_path / "out.csv"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in proc.stderr
    assert f"{src}:3:" in lines[0]
    assert "'oops' is not a number" in lines[0]
    assert not (tmp_path / "out.csv").exists()


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    src = tmp_path / "nocol.csv"
    src.write_text("timestamp,val\n2024-01-01 00:00:00,1.0\n")
    proc = _detect(str(src), "--output", str(tmp_path / "o.csv"))
    assert proc.returncode == 2
    assert f"{src}:1: no 'value' column" in proc.stderr
    proc = _detect(str(tmp_path / "absent.csv"), "--output", str(tmp_path / "o.csv"))
    assert proc.returncode == 2
    assert "absent.csv: cannot read" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = _detect(str(tmp_path / "x.csv"))  # no --output
    assert proc.returncode == 2
    assert "--output" in proc.stderr


def test_unwritable_output_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    _write_series(src, n=50, jump_at=40)
    proc = _detect(str(src), "--output", str(tmp_path / "no" / "such" / "dir" / "o.csv"))
    assert proc.returncode == 1
    assert "cannot write" in proc.stderr


def test_detect_loads_neither_textual_nor_aiohttp(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write_series(src, n=200, jump_at=180)
    code = (
        "import sys\n"
        "from devmentor_monitor.cli import main\n"
        f"rc = main(['detect', {str(src)!r}, '--output', {str(out)!r}])\n"
        "heavy = [m for m in ('textual', 'aiohttp', 'docker', 'kubernetes', 'redis')"
        " if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr


def _daily_file(path: Path, rows: int, missing_peak_day: int = 4) -> None:
    """Five-minute samples of a daily cycle; on one day the afternoon peak does not come."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        for i in range(rows):
            day, slot = divmod(i, 288)
            hour = slot / 12.0
            peak = 60.0 * math.exp(-(((hour - 15.0) / 2.5) ** 2))
            if day == missing_peak_day:
                peak = 0.0
            noise = 0.3 * math.sin(i * 12.9898) * math.sin(i * 78.233)
            stamp = f"2024-01-{1 + day:02d} {int(hour):02d}:{slot % 12 * 5:02d}:00"
            w.writerow([stamp, f"{20.0 + peak + noise:.4f}"])


def _scores(path: Path) -> list[str]:
    with path.open() as f:
        return [row[2] for row in list(csv.reader(f))[1:]]


def test_scores_of_a_prefix_do_not_change_when_rows_are_appended(tmp_path: Path) -> None:
    """What `detect` writes for row i depends on rows 0..i only: the first 1,300 rows
    score the same alone as at the head of the whole file (6 days, every expert on)."""
    full, head = tmp_path / "full.csv", tmp_path / "head.csv"
    _daily_file(full, 6 * 288)
    _daily_file(head, 1300)
    for src in (full, head):
        proc = _detect(str(src), "--output", str(src.with_suffix(".out")))
        assert proc.returncode == 0, proc.stderr
    whole, prefix = _scores(full.with_suffix(".out")), _scores(head.with_suffix(".out"))
    assert prefix == whole[:1300]
    # The day without its peak (day 5) is flagged, by the time-of-day expert: its values
    # (20, the night's level) are inside the range the series always had.
    flagged = [i for i, s in enumerate(whole) if float(s) >= 0.3 and i >= 2 * 288]
    assert flagged
    assert 4 * 288 + 120 <= flagged[0] <= 4 * 288 + 200, flagged[:5]


def test_bad_timestamp_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "badtime.csv"
    src.write_text("timestamp,value\n2024-01-01 00:00:00,1.0\nyesterday,2.0\n")
    proc = _detect(str(src), "--output", str(tmp_path / "out.csv"))
    assert proc.returncode == 2
    assert f"{src}:3: time 'yesterday' is neither ISO 8601 nor epoch seconds" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_epoch_seconds_milliseconds_and_iso_times_score_alike(tmp_path: Path) -> None:
    """The time column may be ISO 8601 (naive = UTC, or with an offset), epoch seconds or
    epoch milliseconds: the same instants give the same scores (the time-of-day expert
    bins them alike); a blank time cell is an unknown time, not an error."""
    iso = tmp_path / "iso.csv"
    _daily_file(iso, 5 * 288)
    with iso.open() as f:
        rows = list(csv.reader(f))[1:]
    variants = {
        "seconds": lambda i, s: str(1704067200 + 300 * i),
        "millis": lambda i, s: str((1704067200 + 300 * i) * 1000),
        "offset": lambda i, s: s.replace(" ", "T") + "+00:00",
    }
    expected = None
    for name, stamp in {"iso": lambda i, s: s, **variants}.items():
        src = tmp_path / f"{name}.csv"
        with src.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value"])
            for i, (s, v) in enumerate(rows):
                w.writerow([stamp(i, s), v])
        proc = _detect(str(src), "--output", str(src.with_suffix(".out")))
        assert proc.returncode == 0, proc.stderr
        scores = _scores(src.with_suffix(".out"))
        expected = expected or scores
        assert scores == expected, name
    blank = tmp_path / "blank.csv"
    blank.write_text("timestamp,value\n2024-01-01 00:00:00,1.0\n,2.0\n")
    proc = _detect(str(blank), "--output", str(tmp_path / "b.out"))
    assert proc.returncode == 0, proc.stderr
