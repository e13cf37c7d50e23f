"""`footpod-monitor dashboards grafana-sync` and `add-coach` through grafana-client, against a
stand-in for Grafana's HTTP API (tests/integration/grafana_standin.py; not Grafana, which cannot be
had here): the final state of folders, permissions, teams and members, and that a second run
changes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dashboards import grafana_sync, teams
from monitor import cli
from tests.integration.grafana_standin import GrafanaStandIn

ADMIN_PASSWORD = "admin-secret"
ROSTER = """\
teams:
  harriers:
runners:
  alice: {team: harriers}
  bob: {team: striders}
"""


@pytest.fixture(autouse=True)
def keep_logging():
    """`cli.main` sets up the process's logging; put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def grafana():
    with GrafanaStandIn(ADMIN_PASSWORD) as server:
        server.provision_folder(teams.ALL_TEAMS_FOLDER_TITLE)  # the file provider's all-teams folder
        yield server


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, grafana: GrafanaStandIn, roster: Path):
    """The CLI's settings: the roster, Grafana's address and the admin password from a file."""
    secret = tmp_path / "grafana_admin_password"
    secret.write_text(ADMIN_PASSWORD + "\n")
    for name in ("FOOTPOD_GRAFANA_ADMIN_PASSWORD", "FOOTPOD_GRAFANA_ADMIN_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FOOTPOD_GRAFANA_ADMIN_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("FOOTPOD_GRAFANA_URL", grafana.url)
    monkeypatch.setenv("FOOTPOD_ROSTER", str(roster))
    return grafana


def api(grafana: GrafanaStandIn):
    return grafana_sync.connect(grafana.url, "admin", ADMIN_PASSWORD)


def team_id(grafana: GrafanaStandIn, name: str) -> int:
    return next(t["id"] for t in grafana.state.teams.values() if t["name"] == name)


def test_sync_gives_each_team_a_folder_its_dashboards_and_coaches_who_alone_may_view_it(grafana):
    plans = teams.plan(["harriers", "striders"])
    grafana_sync.sync(api(grafana), plans)
    state = grafana.state
    for plan in plans:
        assert state.folders[plan.folder_uid]["title"] == plan.folder_title
        coaches = team_id(grafana, plan.grafana_team)
        # only the team, View; the default Viewer/Editor role permissions and the creator's are gone
        assert state.permissions[plan.folder_uid] == [{"teamId": coaches, "permission": 1}]
        for dashboard in plan.dashboards:
            stored = state.dashboards[dashboard["uid"]]
            assert stored["folderUid"] == plan.folder_uid
            assert grafana_sync.stored_form(stored["dashboard"]) == dashboard
    all_teams = state.folder_by_title(teams.ALL_TEAMS_FOLDER_TITLE)
    assert state.permissions[all_teams["uid"]] == []  # admins only


def test_a_second_sync_writes_nothing(grafana):
    plans = teams.plan(["harriers", "striders"])
    first = grafana_sync.sync(api(grafana), plans)
    writes_after_first = len(grafana.state.writes)
    second = grafana_sync.sync(api(grafana), plans)
    assert {c.action for c in first} == {"created", "updated"}
    assert {c.action for c in second} == {"unchanged"}
    assert len(grafana.state.writes) == writes_after_first
    # 2 teams x (folder, team, permissions, 2 dashboards) + the all-teams folder's permissions
    assert writes_after_first == 2 * 5 + 1


def test_a_team_added_to_the_roster_is_the_only_thing_a_later_sync_writes(grafana):
    grafana_sync.sync(api(grafana), teams.plan(["harriers"]))
    before = len(grafana.state.writes)
    changes = grafana_sync.sync(api(grafana), teams.plan(["harriers", "striders"]))
    written = [c for c in changes if c.action != "unchanged"]
    assert {c.name for c in written} >= {"Footpod · striders", "coaches of striders"}
    assert all("harriers" not in c.name for c in written)
    assert len(grafana.state.writes) - before == 5


def test_a_dashboard_changed_in_grafana_is_put_back(grafana):
    plans = teams.plan(["harriers"])
    grafana_sync.sync(api(grafana), plans)
    uid = plans[0].dashboards[0]["uid"]
    grafana.state.dashboards[uid]["dashboard"]["panels"] = []
    changes = grafana_sync.sync(api(grafana), plans)
    assert [c.action for c in changes if c.kind == "dashboard"] == ["updated", "unchanged"]
    stored = grafana.state.dashboards[uid]["dashboard"]
    assert stored["panels"] == plans[0].dashboards[0]["panels"]
    assert stored["version"] == 2


def test_a_folder_opened_to_viewers_again_is_closed_again(grafana):
    plans = teams.plan(["harriers"])
    grafana_sync.sync(api(grafana), plans)
    grafana.state.permissions[plans[0].folder_uid].append({"role": "Viewer", "permission": 1})
    changes = grafana_sync.sync(api(grafana), plans)
    assert [c.action for c in changes if c.kind == "permissions"] == ["updated", "unchanged"]
    assert grafana.state.permissions[plans[0].folder_uid] == [
        {"teamId": team_id(grafana, "coaches of harriers"), "permission": 1}
    ]


def test_a_coach_sees_their_teams_folder_and_no_other(grafana):
    grafana_sync.sync(api(grafana), teams.plan(["harriers", "striders"]))
    grafana_sync.add_coach(api(grafana), "coach@example.org", "harriers", password="pw-1")
    user = grafana.state.user_by_login("coach@example.org")
    assert grafana.state.visible_folders(user["id"]) == {"Footpod · harriers"}
    assert grafana.state.visible_folders(1) >= {"Footpod · harriers", "Footpod · striders", "Footpod"}


def test_add_coach_creates_the_user_once_and_adds_them_to_the_team_once(grafana):
    grafana_sync.sync(api(grafana), teams.plan(["harriers"]))
    changes, made = grafana_sync.add_coach(api(grafana), "coach@example.org", "harriers", password="pw-1")
    assert [c.action for c in changes] == ["created", "created"]
    assert made is None  # the password given is used
    user = grafana.state.user_by_login("coach@example.org")
    assert user["password"] == "pw-1"
    assert grafana.state.members[team_id(grafana, "coaches of harriers")] == {user["id"]}
    writes = len(grafana.state.writes)
    again, _ = grafana_sync.add_coach(api(grafana), "coach@example.org", "harriers", password="other")
    assert [c.action for c in again] == ["unchanged", "unchanged"]
    assert len(grafana.state.writes) == writes
    assert grafana.state.user_by_login("coach@example.org")["password"] == "pw-1"


def test_an_existing_user_is_added_to_a_second_team_without_a_new_password(grafana):
    grafana_sync.sync(api(grafana), teams.plan(["harriers", "striders"]))
    grafana_sync.add_coach(api(grafana), "coach@example.org", "harriers", password="pw-1")
    changes, made = grafana_sync.add_coach(api(grafana), "coach@example.org", "striders")
    assert [c.action for c in changes] == ["unchanged", "created"]
    assert made is None
    user = grafana.state.user_by_login("coach@example.org")
    assert grafana.state.visible_folders(user["id"]) == {"Footpod · harriers", "Footpod · striders"}


def test_cli_sync_then_add_coach_prints_a_new_coachs_password_once(env, capsys):
    assert cli.main(["dashboards", "grafana-sync"]) == 0
    out = capsys.readouterr().out
    assert "coaches of harriers" in out and "coaches of striders" in out
    assert cli.main(["dashboards", "add-coach", "coach@example.org", "--team", "striders"]) == 0
    out = capsys.readouterr().out
    password = env.state.user_by_login("coach@example.org")["password"]
    assert f"with the password {password}" in out
    assert cli.main(["dashboards", "grafana-sync"]) == 0
    assert "created" not in capsys.readouterr().out


def test_cli_add_coach_takes_the_password_from_a_file(env, tmp_path, capsys):
    assert cli.main(["dashboards", "grafana-sync"]) == 0
    secret = tmp_path / "coach_password"
    secret.write_text("from-the-file\n")
    argv = ["dashboards", "add-coach", "c@example.org", "--team", "harriers", "--password-file", str(secret)]
    assert cli.main(argv) == 0
    assert "password" not in capsys.readouterr().out
    assert env.state.user_by_login("c@example.org")["password"] == "from-the-file"


def test_cli_add_coach_before_any_sync_says_to_sync_first(env, capsys):
    assert cli.main(["dashboards", "add-coach", "c@example.org", "--team", "harriers"]) == 1
    err = capsys.readouterr().err
    assert "grafana-sync" in err and "coaches of harriers" in err
    assert env.state.user_by_login("c@example.org") is None


def test_cli_a_wrong_admin_password_is_a_configuration_error(env, monkeypatch, tmp_path, capsys):
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    monkeypatch.setenv("FOOTPOD_GRAFANA_ADMIN_PASSWORD_FILE", str(wrong))
    assert cli.main(["dashboards", "grafana-sync"]) == 2
    err = capsys.readouterr().err
    assert "401" in err and "FOOTPOD_GRAFANA_ADMIN_PASSWORD" in err
    assert len(err.strip().splitlines()) == 1
    assert env.state.writes == []


def test_cli_a_grafana_that_does_not_answer_is_a_runtime_error(env, monkeypatch, capsys):
    url = env.url
    env.shutdown()
    env.server_close()
    monkeypatch.setenv("FOOTPOD_GRAFANA_URL", url)
    assert cli.main(["dashboards", "grafana-sync"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach Grafana at {url}" in err
    assert len(err.strip().splitlines()) == 1
