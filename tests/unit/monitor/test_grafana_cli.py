"""`footpod-monitor dashboards grafana-sync` and `add-coach` on the command line: the dry run's
table, and every mistake caught before any request, as one line and exit status 2 (no sockets)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from dashboards import teams
from monitor import cli

ROSTER = "teams:\n  harriers:\nrunners:\n  alice: {team: harriers}\n  bob: {team: striders}\n"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch):
    """No FOOTPOD_* of the machine's; `main`'s logging set-up put back afterwards."""
    for name in [name for name in os.environ if name.startswith("FOOTPOD_")]:
        monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    return path


def error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_dry_run_prints_each_teams_folder_dashboards_and_coaches(roster, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["dashboards", "grafana-sync", "--roster", str(roster), "--dry-run"]) == 0
    out = capsys.readouterr().out
    for team in ("harriers", "striders"):
        assert f"coaches of {team}" in out
        assert teams.folder_uid(team) in out
        assert teams.dashboard_uid(team, "runner") in out
    assert "dry run" in out


@pytest.mark.parametrize(
    "argv, env, says",
    [
        (["grafana-sync"], {}, "no roster"),
        (["grafana-sync", "--roster", "{roster}"], {}, "no Grafana address"),
        (["grafana-sync", "--roster", "{roster}", "--url", "grafana:3000"], {}, "not an http(s)://"),
        (["grafana-sync", "--roster", "{roster}", "--url", "https://g:3000"], {}, "no Grafana admin password"),
        (["grafana-sync", "--roster", "{empty}", "--url", "https://g:3000"], {}, "names no team"),
        (["grafana-sync", "--roster", "{roster}.missing"], {}, "roster file not found"),
        (["add-coach", "c@example.org", "--team", "a b"], {}, "--team: not a team name"),
        (["add-coach", "not-an-address", "--team", "harriers"], {}, "is not an e-mail address"),
        (["add-coach", "c@example.org", "--team", "jog", "--roster", "{roster}"], {}, "not in the roster"),
        (
            ["add-coach", "c@example.org", "--team", "harriers", "--password-file", "{roster}.missing"],
            {},
            "--password-file",
        ),
        (
            ["add-coach", "c@example.org", "--team", "harriers", "--url", "https://g:3000"],
            {"FOOTPOD_GRAFANA_ADMIN_PASSWORD_FILE": "{roster}.missing"},
            "FOOTPOD_GRAFANA_ADMIN_PASSWORD_FILE",
        ),
    ],
)
def test_a_mistake_exits_2_with_one_line_before_any_request(argv, env, says, roster, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty.yaml"
    empty.write_text("runners:\n")
    fill = {"{roster}": str(roster), "{empty}": str(empty)}

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    for name, value in env.items():
        monkeypatch.setenv(name, filled(value))
    assert cli.main(["dashboards", *[filled(arg) for arg in argv]]) == 2
    line = error_line(capsys)
    assert line.startswith("error: ") and says in line, line


def test_an_empty_password_file_is_refused(roster, tmp_path, capsys):
    empty = tmp_path / "pw"
    empty.write_text("\n")
    argv = ["dashboards", "add-coach", "c@example.org", "--team", "harriers", "--password-file", str(empty)]
    assert cli.main(argv) == 2
    assert "empty" in error_line(capsys)


def test_help_names_the_settings_the_sync_reads(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["dashboards", "grafana-sync", "--help"])
    assert exit.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for words in (
        "FOOTPOD_GRAFANA_ADMIN_USER",
        "FOOTPOD_GRAFANA_URL",
        "FOOTPOD_ROSTER",
        "--dry-run",
        "changes nothing",
    ):
        assert words in out, words


def test_without_grafana_client_the_command_names_the_extra_to_install(roster, tmp_path, capsys, monkeypatch):
    secret = tmp_path / "pw"
    secret.write_text("x")
    monkeypatch.setenv("FOOTPOD_GRAFANA_ADMIN_PASSWORD_FILE", str(secret))
    monkeypatch.delitem(sys.modules, "dashboards.grafana_sync", raising=False)
    monkeypatch.setitem(sys.modules, "grafana_client", None)  # as if not installed
    assert cli.main(["dashboards", "grafana-sync", "--roster", str(roster), "--url", "https://g:3000"]) == 2
    assert "pip install 'footpod-monitor[grafana]'" in error_line(capsys)
