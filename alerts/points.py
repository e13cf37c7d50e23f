"""Alert-worker results as InfluxDB points (CONTRACT.md, "Time series"): pure."""

from __future__ import annotations

from datetime import datetime

from influxdb_client import Point, WritePrecision

from footpod.contract import Alert, PainReport
from footpod.records import LoadSnapshot
from alerts.rules.progression import budget_km


def alert_point(alert: Alert) -> str:
    ts_ms = int(datetime.fromisoformat(alert.ts.replace("Z", "+00:00")).timestamp() * 1000)
    return (Point("alert").tag("runner", alert.runner).tag("team", alert.team).tag("rule", alert.rule)
            .tag("severity", alert.severity).field("message", alert.message).field("action", alert.action)
            .field("id", alert.id).time(ts_ms, WritePrecision.MS).to_line_protocol())


def load_point(runner: str, team: str, load: LoadSnapshot, gate: str) -> str:
    """The load at an instant (a run's end, or midnight), with the budget the gate leaves."""
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


def pain_point(runner: str, team: str, report: PainReport, timing: str, decision: str, run_id: str | None) -> str:
    """A pain report at its time; `report` keeps it whole so a restarted worker can read it back."""
    point = (Point("pain").tag("runner", runner).tag("team", team).tag("timing", timing)
             .field("score", report.score).field("decision", decision).field("worsening", report.worsening)
             .field("flags", ",".join(report.flags)).field("report", report.model_dump_json())
             .time(report.ts, WritePrecision.MS))
    if run_id is not None:
        point.field("run_id", run_id)
    if report.distance_m is not None:
        point.field("distance_m", float(report.distance_m))
    if report.location is not None:
        point.field("location", report.location)
    return point.to_line_protocol()
