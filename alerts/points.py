"""Alert-worker results as InfluxDB points (`footpod.schema`): pure."""

from __future__ import annotations

from datetime import datetime

from alerts.rules.progression import budget_km
from footpod import schema
from footpod.contract import Alert, PainReport
from footpod.records import LoadSnapshot


def alert_point(alert: Alert) -> str:
    ts_ms = int(datetime.fromisoformat(alert.ts.replace("Z", "+00:00")).timestamp() * 1000)
    return schema.ALERT.line(
        {"runner": alert.runner, "team": alert.team, "rule": alert.rule, "severity": alert.severity},
        {"message": alert.message, "action": alert.action, "id": alert.id},
        ts_ms,
    )


def load_point(runner: str, team: str, load: LoadSnapshot, gate: str) -> str:
    """The load at an instant (a run's end, or midnight), with the budget the gate leaves."""
    optional = {
        "change_pct": load.change_pct,
        "acwr": load.acwr,
        "acwr_ewma": load.acwr_ewma,
        "budget_km": budget_km(load, gate),
    }
    return schema.LOAD.line(
        {"runner": runner, "team": team},
        {
            "week_km": round(load.week_km, 3),
            "prev_week_km": round(load.prev_week_km, 3),
            "chronic_week_km": round(load.chronic_week_km, 3),
            "gate": gate,
            **{name: _round(value, 3) for name, value in optional.items()},
        },
        load.as_of_ms,
    )


def pain_point(runner: str, team: str, report: PainReport, timing: str, decision: str, run_id: str | None) -> str:
    """A pain report at its time; `report` keeps it whole so a restarted worker can read it back."""
    return schema.PAIN.line(
        {"runner": runner, "team": team, "timing": timing},
        {
            "score": report.score,
            "decision": decision,
            "worsening": report.worsening,
            "flags": ",".join(report.flags),
            "report": report.model_dump_json(),
            "run_id": run_id,
            "distance_m": report.distance_m,
            "location": report.location,
        },
        report.ts,
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
