"""The local team page: colours as Grafana gives them, the page's content, and its queries."""

from __future__ import annotations

import re

import pytest

from dashboards import build
from dashboards.serve import CSS_COLOURS, TeamSource, TeamView, colour_of, team_page


@pytest.mark.parametrize(
    ("acwr", "colour"),
    [
        (0.5, "blue"),  # under the sweet spot
        (0.8, "green"),  # the sweet spot starts at 0.8
        (1.29, "green"),
        (1.3, "orange"),  # Grafana colours a step from its value up
        (1.49, "orange"),
        (1.5, "red"),
        (2.4, "red"),
        (None, None),  # no ACWR yet: no colour
    ],
)
def test_acwr_colour_is_the_dashboards_band(acwr, colour) -> None:
    assert colour_of(acwr, build.acwr_bands()) == colour


ROW = {
    "week_km": 14.0,
    "prev_week_km": 10.0,
    "allowed_km": 11.0,
    "budget_km": 0.0,
    "change_pct": 40.0,
    "acwr": 1.62,
    "acwr_ewma": 1.41,
    "gate": "see_clinician",
    "shoe_km": 512.0,
    "last_alert": "Knee pain 3/10 <with swelling>",
    "rule": "red_flag",
    "severity": "critical",
}


def test_page_shows_each_runner_with_week_against_allowed_acwr_band_and_gate_colour() -> None:
    view = TeamView(
        team="harriers",
        teams=["harriers", "striders"],
        runners={"ann": ROW, "ben": {"week_km": 5.0, "gate": "progress", "acwr": 1.0}},
    )

    page = team_page(view)

    ann = re.search(r'<tr data-runner="ann">(.*?)</tr>', page)[1]
    assert "14.0 / 11.0 km" in ann and "budget left 0.0 km" in ann
    assert f'style="background:{CSS_COLOURS["red"]}" data-band=acwr>1.62' in ann
    assert f'style="background:{CSS_COLOURS[build.GATE_COLOURS["see_clinician"]]}" data-band=gate>see_clinician' in ann
    assert "&lt;with swelling&gt;" in ann and "<with" not in ann  # alert text is escaped
    ben = re.search(r'<tr data-runner="ben">(.*?)</tr>', page)[1]
    assert f'style="background:{CSS_COLOURS["green"]}" data-band=gate>progress' in ben
    assert "no budget yet" in ben
    assert '<a href="/?team=striders">striders</a>' in page


def test_page_without_runners_or_alerts_says_so() -> None:
    page = team_page(TeamView(team="harriers", teams=["harriers"], runners={}))

    assert "No load stored for this team yet" in page
    assert f"No alerts in the last {build.OPEN_ALERT_DAYS} days" in page


class FakeStore:
    """Answers the dashboard's queries from a few rows, and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, query: str) -> list[dict]:
        self.asked.append(query)
        if query.startswith('SHOW TAG VALUES FROM "load" WITH KEY = "team"'):
            return [{"key": "team", "value": "striders"}, {"key": "team", "value": "harriers"}]
        if query.startswith("SHOW TAG VALUES"):
            return [{"key": "runner", "value": "ann"}, {"key": "runner", "value": "ben"}]
        if 'AS "allowed_km" FROM (' in query:
            return [{"runner": "ann", "time": 5, "allowed_km": 11.0}]
        if 'FROM "load"' in query:
            return [
                {"runner": "ann", "time": 0, "week_km": 14.0, "gate": "maintain"},
                {"runner": "ben", "time": 0, "week_km": 5.0, "gate": "progress"},
            ]
        if 'last("message") AS "message"' in query:
            return [{"runner": "ann", "rule": "progression", "severity": "warning", "time": 9, "message": "hold"}]
        return []


def test_source_joins_the_runners_panels_queries_by_runner_for_the_chosen_team() -> None:
    store = FakeStore()

    view = TeamSource(store).view("striders")

    assert view.team == "striders" and view.teams == ["harriers", "striders"]
    assert view.runners["ann"] == {"runner": "ann", "week_km": 14.0, "gate": "maintain", "allowed_km": 11.0}
    assert view.runners["ben"]["gate"] == "progress"
    assert [alert["rule"] for alert in view.alerts] == ["progression"]
    assert all(not re.search(r"\$[\w{]", query) for query in store.asked)
    assert any("/^striders$/" in query and "/^(ann|ben)$/" in query for query in store.asked)


def test_source_falls_back_to_the_first_team_for_an_unknown_one() -> None:
    assert TeamSource(FakeStore()).view("nope").team == "harriers"


def test_runner_names_link_to_their_grafana_runner_detail_when_grafana_is_configured() -> None:
    view = TeamView(
        team="harriers", teams=["harriers"], runners={"ann.b": ROW}, grafana_url="https://grafana.example.org/"
    )

    page = team_page(view)

    assert '<a href="https://grafana.example.org/d/footpod-runner-detail?var-runner=ann.b">ann.b</a>' in page
    assert "<a href" not in team_page(TeamView(team="h", teams=[], runners={"ann": ROW})).split("</nav>")[1]


def test_the_cli_serves_the_team_page_and_still_builds_without_an_action() -> None:
    from monitor.cli import build_parser

    serve = build_parser().parse_args(["dashboards", "serve", "--port", "9100", "--host", "0.0.0.0"])
    plain = build_parser().parse_args(["dashboards", "--out-dir", "out"])

    assert (serve.command, serve.dashboards_action, serve.port, serve.host) == ("dashboards", "serve", 9100, "0.0.0.0")
    assert (plain.command, plain.dashboards_action, str(plain.out_dir)) == ("dashboards", None, "out")
