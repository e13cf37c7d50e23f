"""`footpod-monitor dashboards serve`: the team at a glance in a browser, without Grafana.

A small server-rendered page over the Team overview dashboard's own queries (its "Runners" and
"Open alerts" panels, template variables expanded as Grafana expands them): per runner the km of
the trailing 7 days against what the gate allows and the budget left, ACWR in its band colour, the
pain gate in its colour, the shoe's km and the last alert; then the team's open alerts.

`team_page` and `colour_of` are pure; `TeamSource` reads InfluxDB; `make_server` is the HTTP shell.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from dashboards import build
from dashboards.expand import TimeRange, expand, panel_targets
from footpod.errors import StoreReadError
from footpod.timeseries import query_once

log = logging.getLogger("footpod.dashboards.serve")

DEFAULT_PORT = 8300
RANGE = TimeRange.last("90d")  # the Team overview's default time range
# Grafana's named colours, as its default theme draws them
CSS_COLOURS = {"green": "#73bf69", "yellow": "#fade2a", "orange": "#ff9830", "red": "#f2495c", "blue": "#5794f2"}
NO_VALUE = "–"

Query = Callable[[str], list[dict[str, Any]]]


def colour_of(value: float | None, thresholds: Any) -> str | None:
    """The colour Grafana gives `value` under absolute `thresholds` (a step applies from its value up)."""
    if value is None:
        return None
    colour = None
    for step in thresholds.build().steps:
        if step.value is None or value >= step.value:
            colour = step.color
    return colour


@dataclass(frozen=True)
class TeamView:
    """What the page shows: the team, the teams to switch to, a row per runner, the open alerts."""

    team: str
    teams: Sequence[str]
    runners: Mapping[str, Mapping[str, Any]]
    alerts: Sequence[Mapping[str, Any]] = field(default_factory=list)
    grafana_url: str | None = None  # FOOTPOD_GRAFANA_URL: runner names link to their Runner detail


def panel_queries(title: str) -> list[str]:
    """The queries of the Team overview panel called `title`."""
    return [target["query"] for panel, target in panel_targets(build.team_load()) if panel["title"] == title]


def variable_query(name: str) -> str:
    (variable,) = [v for v in build.team_load()["templating"]["list"] if v["name"] == name]
    return variable["query"]


class TeamSource:
    """Reads a team's rows with the dashboard's queries through `query` (InfluxQL → rows with tags)."""

    def __init__(self, query: Query, time_range: TimeRange = RANGE, grafana_url: str | None = None):
        self.query, self.time_range, self.grafana_url = query, time_range, grafana_url

    def teams(self) -> list[str]:
        return sorted({row["value"] for row in self.query(variable_query("team"))})

    def view(self, team: str | None) -> TeamView:
        teams = self.teams()
        team = team if team in teams else (teams[0] if teams else "")
        if not team:
            return TeamView(team="", teams=[], runners={})
        runners = sorted(
            {row["value"] for row in self.query(expand(variable_query("runner"), {"team": [team]}, self.time_range))}
        )
        if not runners:
            return TeamView(team=team, teams=teams, runners={})
        chosen = {"team": [team], "runner": runners}
        joined: dict[str, dict[str, Any]] = {runner: {} for runner in runners}
        for query in panel_queries("Runners"):  # Grafana joins these by runner
            for row in self.query(expand(query, chosen, self.time_range)):
                joined.setdefault(row["runner"], {}).update({k: v for k, v in row.items() if k != "time"})
        (alerts_query,) = panel_queries("Open alerts")
        alerts = sorted(
            self.query(expand(alerts_query, chosen, self.time_range)), key=lambda row: row.get("time", 0), reverse=True
        )
        return TeamView(team=team, teams=teams, runners=joined, alerts=alerts, grafana_url=self.grafana_url)


def influx_query(url: str, database: str, token: str = "", timeout_s: float = 10.0) -> Query:
    """InfluxQL over InfluxDB's `/query` (1.x, and 2.x/3.x through DBRP); a store error raises."""
    return lambda influxql: query_once(url, database, influxql, token, timeout_s)


# --- the page (pure) ------------------------------------------------------------------------------


def _number(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return NO_VALUE
    return f"{value:.{digits}f}{unit}"


def _swatch(text: str, colour: str | None, attribute: str = "") -> str:
    style = f' style="background:{CSS_COLOURS.get(colour, colour)}"' if colour else ""
    return f'<span class="pill"{style}{attribute}>{html.escape(text)}</span>'


def _week_cell(row: Mapping[str, Any]) -> str:
    week, allowed, budget = row.get("week_km"), row.get("allowed_km"), row.get("budget_km")
    if week is None:
        return NO_VALUE
    if allowed is None:
        return f"{week:.1f} km <small>(no budget yet: it needs a previous week)</small>"
    share = min(week / allowed, 1.0) if allowed > 0 else 1.0
    colour = CSS_COLOURS["red"] if week > allowed else CSS_COLOURS["green"]
    bar = f'<div class="bar"><div style="width:{share * 100:.0f}%;background:{colour}"></div></div>'
    return f"{week:.1f} / {allowed:.1f} km {bar}<small>budget left {_number(budget)} km</small>"


def _last_alert(message: str | None, severity: str | None) -> str:
    if not message:
        return NO_VALUE
    pill = _swatch(severity, build.SEVERITY_COLOURS.get(severity)) + " " if severity else ""
    return pill + html.escape(message)


def _runner_name(name: str, grafana_url: str | None) -> str:
    if not grafana_url:
        return html.escape(name)
    link = f"{grafana_url.rstrip('/')}/d/{build.RUNNER_DETAIL_UID}?{urlencode({'var-runner': name})}"
    return f'<a href="{html.escape(link)}">{html.escape(name)}</a>'


def _runner_row(name: str, row: Mapping[str, Any], grafana_url: str | None = None) -> str:
    acwr, ewma, change, gate = row.get("acwr"), row.get("acwr_ewma"), row.get("change_pct"), row.get("gate")
    change_colour = colour_of(change, build.change_pct_bands())
    alert = row.get("last_alert")
    cells = [
        f'<td class="runner">{_runner_name(name, grafana_url)}</td>',
        f"<td>{_week_cell(row)}</td>",
        f'<td style="color:{CSS_COLOURS.get(change_colour or "", "inherit")}">{_number(change, 0, " %")}</td>',
        f"<td>{_swatch(_number(acwr, 2), colour_of(acwr, build.acwr_bands()), ' data-band=acwr')}"
        f" <small>EWMA</small> {_swatch(_number(ewma, 2), colour_of(ewma, build.acwr_bands()), ' data-band=ewma')}"
        "</td>",
        f"<td>{_swatch(gate or NO_VALUE, build.GATE_COLOURS.get(gate or ''), ' data-band=gate')}</td>",
        f"<td>{_number(row.get('shoe_km'), 0, ' km')}</td>",
        f"<td>{_last_alert(alert, row.get('severity'))}</td>",
    ]
    return f'<tr data-runner="{html.escape(name)}">{"".join(cells)}</tr>'


def _alert_row(alert: Mapping[str, Any]) -> str:
    severity = alert.get("severity") or ""
    return (
        f"<tr><td>{html.escape(alert.get('runner', ''))}</td>"
        f"<td>{_swatch(severity, build.SEVERITY_COLOURS.get(severity))}</td>"
        f"<td>{html.escape(alert.get('rule', ''))}</td><td>{html.escape(alert.get('action') or '')}</td>"
        f"<td>{html.escape(alert.get('message') or '')}</td></tr>"
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#f7f8fa;color:#1f2328}
h1{font-size:1.4rem;margin:0 0 .3rem} h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
nav a{margin-right:.8rem} nav a.current{font-weight:bold;text-decoration:none;color:inherit}
table{border-collapse:collapse;background:#fff;width:100%} th,td{padding:.45rem .6rem;text-align:left;
border-bottom:1px solid #e3e6ea;vertical-align:top} th{background:#eef1f4;font-weight:600}
.pill{display:inline-block;padding:.1rem .5rem;border-radius:.7rem;color:#111;background:#ddd}
.bar{height:.45rem;width:10rem;background:#e3e6ea;border-radius:.2rem;margin:.25rem 0}
.bar div{height:100%;border-radius:.2rem} small{color:#57606a} .runner{font-weight:600;white-space:nowrap}
"""


def team_page(view: TeamView) -> str:
    """The team's page as HTML."""
    nav = " ".join(
        f'<a href="/?{urlencode({"team": team})}"{" class=current" if team == view.team else ""}>'
        f"{html.escape(team)}</a>"
        for team in view.teams
    )
    if view.runners:
        header = (
            "<tr><th>Runner</th><th>Week km / allowed</th><th>Change</th><th>ACWR</th><th>Pain gate</th>"
            "<th>Shoe</th><th>Last alert</th></tr>"
        )
        runners = "".join(_runner_row(name, row, view.grafana_url) for name, row in sorted(view.runners.items()))
        runner_table = f'<table id="runners">{header}{runners}</table>'
    else:
        runner_table = "<p>No load stored for this team yet: it appears after the runners' first runs.</p>"
    if view.alerts:
        alert_rows = "".join(_alert_row(alert) for alert in view.alerts)
        alerts = (
            f'<table id="alerts"><tr><th>Runner</th><th>Severity</th><th>Rule</th><th>Action</th>'
            f"<th>Message</th></tr>{alert_rows}</table>"
        )
    else:
        alerts = f"<p>No alerts in the last {build.OPEN_ALERT_DAYS} days.</p>"
    title = f"{view.team} · footpod-monitor" if view.team else "footpod-monitor"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>Team {html.escape(view.team or NO_VALUE)}</h1>"
        f"<nav>{nav}</nav><h2>Runners</h2>{runner_table}"
        f"<p><small>ACWR: sweet spot {build.ACWR_SWEET_SPOT_FROM:g}–{build.ACWR_ELEVATED_ABOVE:g}, high above "
        f"{build.ACWR_HIGH_ABOVE:g}. Allowed: last week's km times the gate's factor (RULES.md §2). "
        f"Figures of the last 90 days' newest load.</small></p>"
        f"<h2>Open alerts</h2>{alerts}</body></html>"
    )


# --- the server (I/O) -----------------------------------------------------------------------------


def make_server(source: TeamSource, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """An HTTP server of the team page at `/?team=NAME`; `serve_forever` runs it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            if parts.path != "/":
                self._send(HTTPStatus.NOT_FOUND, "<p>Not found: the team page is at <a href='/'>/</a>.</p>")
                return
            team = (parse_qs(parts.query).get("team") or [None])[0]
            try:
                body = team_page(source.view(team))
            except StoreReadError as error:
                log.warning("time-series store: %s", error)
                self._send(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    f"<p>The time-series store cannot be read: {html.escape(str(error))}</p>",
                )
                return
            self._send(HTTPStatus.OK, body)

        def _send(self, status: HTTPStatus, body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            log.info("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)
