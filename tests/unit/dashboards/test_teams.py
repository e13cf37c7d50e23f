"""The per-team Grafana plan (dashboards/teams.py): uids, pinned queries, variables, links (no sockets)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards import build, teams
from footpod.contract import RUNNER_PATTERN
from footpod.roster import Roster

team_names = st.from_regex(RUNNER_PATTERN.replace("$", r"\Z"), fullmatch=True)
PROVIDER = Path(build.__file__).resolve().parent / "provisioning" / "dashboards" / "footpod.yml"
MEASUREMENT_READ = re.compile(r'FROM "(?P<measurement>[^"]+)"(?: WITH KEY = "[^"]+")?(?P<rest>[^()]*)')
TEAM_CONDITION = re.compile(r'"team"\s*(?:=~|!~|!=|=)\s*(?:\'[^\']*\'|/[^/]*/|\$\w+)')
DASHBOARD_LINK = re.compile(r"/d/(?P<uid>[A-Za-z0-9_-]+)")


def strings_under(node: object, key: str | None = None):
    """(key, text) of every string in JSON data, with the key it sits under."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings_under(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from strings_under(item, key)
    elif isinstance(node, str):
        yield key, node


def queries(dashboard: object) -> list[str]:
    """Every InfluxQL statement of a dashboard (panel targets and variables), or of its panels."""
    return [text for key, text in strings_under(dashboard) if key == "query" and re.match(r"^(SELECT|SHOW) ", text)]


def variable(dashboard: dict, name: str) -> dict:
    return next(v for v in dashboard["templating"]["list"] if v["name"] == name)


@settings(max_examples=200, deadline=None)
@given(st.lists(team_names, min_size=1, max_size=6, unique=True))
def test_any_valid_team_names_give_valid_unique_uids(names):
    plans = teams.plan(names)
    uids = [p.folder_uid for p in plans] + [d["uid"] for p in plans for d in p.dashboards]
    assert len(set(uids)) == len(uids) == 3 * len(names)
    for uid in uids:
        assert teams.UID.match(uid), uid
    assert len({p.grafana_team for p in plans}) == len(names)


@settings(max_examples=100, deadline=None)
@given(team_names)
def test_a_teams_uids_are_stable(name):
    assert teams.folder_uid(name) == teams.folder_uid(name)
    assert teams.team_plan(name).folder_uid == teams.folder_uid(name)


@pytest.mark.parametrize(
    "first, second",
    [
        ("harriers", "Harriers"),  # case alone tells them apart
        ("a.b", "a-b"),  # the same slug
        ("x" * 64, "x" * 63),  # both cut to the same slug
        ("___", "---"),  # no slug at all
    ],
)
def test_teams_whose_slugs_collide_still_get_different_folders(first, second):
    assert teams.folder_uid(first) != teams.folder_uid(second)


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "team+", "x" * 65, "é"])
def test_a_name_the_roster_would_refuse_is_refused(bad):
    with pytest.raises(ValueError, match="not a team name"):
        teams.team_plan(bad)


@settings(max_examples=60, deadline=None)
@given(st.lists(team_names, min_size=2, max_size=3, unique=True))
def test_every_read_of_a_teams_dashboards_is_kept_to_that_team(names):
    """Each measurement a team's panel or variable reads is filtered on that team by its literal
    name, first in the WHERE; no other condition on the team (a variable, another team) is left."""
    for team_plan in teams.plan(names):
        pinned = teams.team_filter(team_plan.team)
        for dashboard in team_plan.dashboards:
            statements = queries(dashboard)
            assert statements
            for statement in statements:
                reads = list(MEASUREMENT_READ.finditer(statement))
                assert reads, statement
                for read in reads:
                    assert read["rest"].startswith(f" WHERE {pinned}"), statement
                assert set(TEAM_CONDITION.findall(statement)) == {pinned}, statement
                assert "$team" not in statement


def test_the_pinned_copies_keep_every_panel_and_query_of_the_shared_dashboards():
    shared = {d["uid"]: d for d in build.dashboards().values()}
    team_plan = teams.team_plan("harriers")
    for dashboard in team_plan.dashboards:
        original = next(d for d in shared.values() if dashboard["title"].startswith(d["title"]))
        assert [p["title"] for p in dashboard["panels"]] == [p["title"] for p in original["panels"]]
        assert len(queries(dashboard["panels"])) == len(queries(original["panels"]))


def test_a_teams_copies_pin_the_team_variable_and_list_only_its_runners():
    team_plan = teams.team_plan("harriers")
    for dashboard in team_plan.dashboards:
        team = variable(dashboard, "team")
        assert team["type"] == "constant"
        assert team["query"] == "harriers"
        assert team["hide"] == 2  # hidden
        assert team["skipUrlSync"] is True  # a URL's var-team is not taken
        assert not team.get("includeAll")
        runner = variable(dashboard, "runner")
        assert runner["query"].endswith("WHERE \"team\" = 'harriers'"), runner["query"]


def test_a_teams_links_lead_only_to_its_own_copies():
    plans = teams.plan(["harriers", "striders"])
    for team_plan in plans:
        own = {d["uid"] for d in team_plan.dashboards}
        links = {m["uid"] for d in team_plan.dashboards for m in DASHBOARD_LINK.finditer(json.dumps(d))}
        assert links == own


def test_the_all_teams_dashboards_are_left_as_built():
    before = build.dashboards()
    teams.plan(["harriers"])
    assert build.dashboards() == before
    assert variable(before["team-load.json"], "team")["type"] == "query"


def test_each_team_gets_its_own_folder_and_a_grafana_team_with_view_only():
    [plan] = teams.plan(["harriers"])
    assert plan.grafana_team == "coaches of harriers"
    assert plan.permission == teams.VIEW == 1
    assert "harriers" in plan.folder_title
    assert all(d["title"].endswith("harriers") for d in plan.dashboards)


def test_the_teams_are_those_named_under_teams_and_those_runners_are_in():
    roster = Roster.model_validate(
        {"teams": {"harriers": None, "idle": None}, "runners": {"alice": {"team": "harriers"}, "bob": {"team": "jog"}}}
    )
    assert teams.teams_of(roster) == ["harriers", "idle", "jog"]


def test_the_all_teams_folder_is_the_one_the_file_provider_fills():
    provider = yaml.safe_load(PROVIDER.read_text())["providers"][0]
    assert provider["folder"] == teams.ALL_TEAMS_FOLDER_TITLE


def test_plan_rows_name_each_teams_folder_dashboards_and_coaches():
    [row] = teams.plan_rows(teams.plan(["harriers"]))
    team, folder, dashboards, grafana_team, permission = row
    assert team == "harriers"
    assert teams.folder_uid("harriers") in folder
    assert teams.dashboard_uid("harriers", "load") in dashboards
    assert teams.dashboard_uid("harriers", "runner") in dashboards
    assert (grafana_team, permission) == ("coaches of harriers", "View")
