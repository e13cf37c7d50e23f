"""Alert-worker results as InfluxDB points (CONTRACT.md, "Time series"): pure."""

from __future__ import annotations

from datetime import datetime

from influxdb_client import Point, WritePrecision

from footpod.contract import Alert
from footpod.records import RunEvaluation
from alerts.rules.progression import budget_km


def alert_point(alert: Alert) -> str:
    ts_ms = int(datetime.fromisoformat(alert.ts.replace("Z", "+00:00")).timestamp() * 1000)
    return (Point("alert").tag("runner", alert.runner).tag("team", alert.team).tag("rule", alert.rule)
            .tag("severity", alert.severity).field("message", alert.message).field("action", alert.action)
            .field("id", alert.id).time(ts_ms, WritePrecision.MS).to_line_protocol())


def load_point(runner: str, team: str, evaluation: RunEvaluation, gate: str) -> str:
    """The load at the end of a run (RULES.md §1), with the budget the gate leaves."""
    load = evaluation.load
    point = (Point("load").tag("runner", runner).tag("team", team)
             .field("week_km", round(load.week_km, 3)).field("prev_week_km", round(load.prev_week_km, 3))
             .field("chronic_week_km", round(load.chronic_week_km, 3)).field("gate", gate)
             .time(load.as_of_ms, WritePrecision.MS))
    optional = {"change_pct": load.change_pct, "acwr": load.acwr, "acwr_ewma": load.acwr_ewma,
                "budget_km": budget_km(load, gate)}
    for name, value in optional.items():
        if value is not None:
            point.field(name, round(float(value), 3))
    return point.to_line_protocol()
