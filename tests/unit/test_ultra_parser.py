"""`ultra` builds only its own subcommand's parser (its start skips the other commands'
arguments, ~7 ms of CPU before the first frame): what it parses, its help and its errors
are the full command line's."""

from __future__ import annotations

import pytest

from devmentor_monitor.cli import build_parser

ARGVS = [
    ["ultra"],
    ["ultra", "--demo", "--no-serve", "--theme", "light"],
    ["ultra", "-c", "x.yaml", "--port", "9000", "--host", "0.0.0.0", "--insecure"],
    ["ultra", "--data-dir", "/tmp/d", "--read-only", "--log-level", "debug"],
]


@pytest.mark.parametrize("argv", ARGVS)
def test_the_same_namespace_as_the_full_command_line(argv: list[str]) -> None:
    assert vars(build_parser("ultra").parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["ultra", "--help"], ["ultra", "--port", "x"], ["ultra", "-z"]])
def test_the_same_help_and_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    out = []
    for parser in (build_parser("ultra"), build_parser()):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(argv)
        out.append((exc.value.code, capsys.readouterr()))
    assert out[0] == out[1]
    assert out[0][1].out or out[0][1].err
