"""Grafana per team, as a pure plan: a folder, the team's copies of the dashboards and a Grafana
team of its coaches with View on that folder only.

A team's copies are the dashboards of `dashboards.build` with the team pinned: every read of a
measurement filters on the team by its literal name (not on a variable a URL could change), the
`team` variable is a hidden constant, the runner drop-down lists only the team's runners, and the
links between the dashboards lead to the team's own copies. `dashboards.grafana_sync` applies the
plan to a Grafana; nothing here opens a socket.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from dashboards import build
from footpod.contract import RUNNER_PATTERN
from footpod.roster import Roster

# The folder the file provider loads the all-teams dashboards into
# (`dashboards/provisioning/dashboards/footpod.yml`): admins only, once the sync has run.
ALL_TEAMS_FOLDER_TITLE = "Footpod"
VIEW = 1  # Grafana's folder permission levels: 1 View, 2 Edit, 4 Admin
UID_MAX = 40  # Grafana's limit on a folder's or dashboard's uid
UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
SLUG_MAX = 16
TEAM_NAME = re.compile(RUNNER_PATTERN)
# The dashboards each team gets: (kind, the all-teams dashboard's uid, its builder).
KINDS: tuple[tuple[str, str, Callable[[], dict[str, object]]], ...] = (
    ("load", build.TEAM_LOAD_UID, build.team_load),
    ("runner", build.RUNNER_DETAIL_UID, build.runner_detail),
)


@dataclass(frozen=True)
class TeamPlan:
    """What one team gets in Grafana."""

    team: str
    folder_uid: str
    folder_title: str
    grafana_team: str
    dashboards: tuple[dict[str, object], ...]
    permission: int = VIEW  # the Grafana team's permission on the folder, the folder's only one


def teams_of(roster: Roster) -> list[str]:
    """The roster's teams: those under `teams:` and those its runners are in, sorted."""
    return sorted(set(roster.teams) | {entry.team for entry in roster.runners.values()})


def check_team(team: str) -> str:
    """`team` when it is a valid team name (the roster's pattern), else ValueError."""
    if not TEAM_NAME.match(team):
        raise ValueError(f"not a team name: {team!r} (letters, digits, '_', '.', '-'; at most 64)")
    return team


def folder_uid(team: str) -> str:
    """The team folder's uid: `team-`, a readable slug and a hash of the exact name (so `A` and `a`,
    or `a.b` and `a-b`, differ), at most 40 characters of `[a-z0-9-]`."""
    check_team(team)
    slug = re.sub(r"[^a-z0-9]+", "-", team.lower()).strip("-")[:SLUG_MAX].strip("-")
    digest = hashlib.sha256(team.encode()).hexdigest()[:10]
    return f"team-{slug}-{digest}" if slug else f"team-{digest}"


def dashboard_uid(team: str, kind: str) -> str:
    """The uid of the team's copy of dashboard `kind` (`load`, `runner`)."""
    return f"{folder_uid(team)}-{kind}"


def grafana_team_name(team: str) -> str:
    """The Grafana team whose members are the team's coaches."""
    return f"coaches of {check_team(team)}"


def team_filter(team: str) -> str:
    """The InfluxQL condition that keeps a read to `team` (a team name has no quote to escape)."""
    return f"\"team\" = '{check_team(team)}'"


def pin_query(query: str, team: str) -> str:
    """`query` kept to `team`: the `$team` filter becomes the team's literal name, a read filtered
    on the runner alone gets the team's filter before it, and a tag listing gets it as its WHERE."""
    pinned = team_filter(team)
    query = query.replace(build.TEAM_FILTER, pinned)
    already = re.escape(f"{pinned} AND ")
    query = re.sub(
        f"(?<!{already}){re.escape(build.RUNNER_FILTER)}", lambda _: f"{pinned} AND {build.RUNNER_FILTER}", query
    )
    return re.sub(r'^(SHOW TAG VALUES FROM "[^"]+" WITH KEY = "[^"]+")$', lambda m: f"{m[1]} WHERE {pinned}", query)


def _walk(node: object, on_string: Callable[[str, str | None], str], key: str | None = None) -> object:
    """A copy of JSON data with every string passed through `on_string(text, key it sits under)`."""
    if isinstance(node, dict):
        return {k: _walk(v, on_string, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(item, on_string, key) for item in node]
    if isinstance(node, str):
        return on_string(node, key)
    return node


def team_variable(team: str) -> dict[str, object]:
    """The `team` variable of a team's copy: a hidden constant, not taken from the URL."""
    variable = build.as_plain_json(dashboard_builders.ConstantVariable("team").label("Team").value(team).build())
    variable["skipUrlSync"] = True
    variable["current"] = {"selected": True, "text": team, "value": team}
    return variable


def team_dashboard(dashboard: Mapping[str, object], team: str, uids: Mapping[str, str]) -> dict[str, object]:
    """`dashboard` as team `team` sees it: queries pinned, the `team` variable a constant, links and
    the uid moved to the team's copies (`uids`: all-teams uid -> the team's)."""

    def on_string(text: str, key: str | None) -> str:
        if key == "query":
            text = pin_query(text, team)
        for shared, own in uids.items():
            text = text.replace(f"/d/{shared}", f"/d/{own}")
        return text

    pinned = cast(dict[str, Any], _walk(copy.deepcopy(dict(dashboard)), on_string))
    variables = pinned.get("templating", {}).get("list", [])
    pinned["templating"] = {
        "list": [team_variable(team) if variable.get("name") == "team" else variable for variable in variables]
    }
    if not any(variable.get("name") == "team" for variable in variables):
        pinned["templating"]["list"].insert(0, team_variable(team))
    pinned["uid"] = uids[str(dashboard["uid"])]
    pinned["title"] = f"{dashboard['title']} · {team}"
    return pinned


def team_plan(team: str) -> TeamPlan:
    """The folder, dashboards and Grafana team of one team."""
    uids = {shared: dashboard_uid(team, kind) for kind, shared, _ in KINDS}
    return TeamPlan(
        team=team,
        folder_uid=folder_uid(team),
        folder_title=f"Footpod · {team}",
        grafana_team=grafana_team_name(team),
        dashboards=tuple(team_dashboard(builder(), team, uids) for _, _, builder in KINDS),
    )


def plan(teams: Iterable[str]) -> list[TeamPlan]:
    """Every team's plan, sorted by team; ValueError for a bad name or (never seen) clashing uids."""
    plans = [team_plan(team) for team in sorted(set(teams))]
    uids = [p.folder_uid for p in plans] + [str(d["uid"]) for p in plans for d in p.dashboards]
    if len(set(uids)) != len(uids):
        raise ValueError("two teams' uids clash: rename one of them")
    return plans


def plan_rows(plans: Iterable[TeamPlan]) -> list[tuple[str, str, str, str, str]]:
    """The plan as table rows: team, folder, dashboards, Grafana team, its permission."""
    return [
        (
            p.team,
            f"{p.folder_title} ({p.folder_uid})",
            "\n".join(f"{d['title']} ({d['uid']})" for d in p.dashboards),
            p.grafana_team,
            "View" if p.permission == VIEW else str(p.permission),
        )
        for p in plans
    ]
