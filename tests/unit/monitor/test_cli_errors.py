"""The command line's exit statuses and one-line errors: 2 for usage and configuration, 1 at run time."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from footpod.errors import StoreReadError
from monitor import cli

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def keep_logging():
    """`main` sets up the process's logging; put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("httpx", "httpcore", "faust", "mode", "aiokafka", "kafka", "apprise", "urllib3"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def run_cli(*args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FOOTPOD_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        env={**environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_setting_exits_2_with_one_line_naming_the_variable():
    result = run_cli("status", "kim", FOOTPOD_RUN_GAP_S="abc")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("error: FOOTPOD_RUN_GAP_S=abc: "), lines


def test_a_missing_secret_file_exits_2_with_one_line(tmp_path):
    result = run_cli("stream", FOOTPOD_INFLUX_TOKEN_FILE=str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: FOOTPOD_INFLUX_TOKEN_FILE={tmp_path / 'nope'}: cannot read it (No such file or directory)"
    ]


def test_an_unknown_command_is_a_usage_error():
    assert run_cli("explode").returncode == 2


def test_version_prints_the_package_version():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"footpod-monitor {version('footpod-monitor')}"


@pytest.mark.parametrize(
    "argv, level",
    [
        (["stream", "-l", "debug"], "debug"),  # after the command
        (["-l", "error", "stream"], "error"),  # before it
        (["status", "kim", "--log-level", "warning"], "warning"),
        (["stream"], None),  # then FOOTPOD_LOG_LEVEL decides
    ],
)
def test_the_log_level_is_accepted_before_and_after_the_command(argv, level):
    assert cli.build_parser().parse_args(argv).log_level == level


def test_a_runtime_error_exits_1_with_one_line(monkeypatch, capsys):
    def failing(args, settings):
        raise StoreReadError("the time-series store at http://influx:8086 did not answer:\nConnection refused")

    monkeypatch.setitem(cli.COMMANDS, "status", failing)
    assert cli.main(["status", "kim"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: the time-series store at http://influx:8086 did not answer: Connection refused"
    ]


def test_an_unexpected_error_exits_1_with_one_line_and_no_traceback(monkeypatch, capsys):
    def failing(args, settings):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(cli.COMMANDS, "status", failing)
    assert cli.main(["status", "kim"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: OSError: [Errno 28] No space left on device"]
