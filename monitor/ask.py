"""`footpod-monitor status` and `pain`: a runner's status as a person reads it, and a report entered
on a runner's behalf, as a phone would publish it."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

from footpod import schema
from footpod.contract import PainReport, iso
from footpod.errors import FootpodError, UsageError
from footpod.settings import Settings
from footpod.thresholds import ACWR_ELEVATED, GATE_FACTORS, GateName
from footpod.timeseries import query_now

EARLIER_ALERTS_SHOWN = 3  # the latest alerts of history older than the 7 days, shown after the recent ones

GATE_WORDS: dict[GateName, str] = {
    "progress": f"progress: up to +{(GATE_FACTORS['progress'] - 1) * 100:.0f} % on last week",
    "continue_no_increase": "keep running, no increase",
    "maintain": "maintain this volume",
    "reduce_volume": f"reduce volume by {(1 - GATE_FACTORS['reduce_volume']) * 100:.0f} % on the week before the gate",
    "stop_run": "stop running, seek a physiotherapy assessment",
    "see_clinician": "see a clinician before running",
}


def describe_status(
    status: dict, gate_report: dict | None, alerts: list[dict], earlier: list[dict] = ()
) -> list[tuple[str, str]]:
    """(label, sentence) lines for a status, the report that set its gate, recent alerts, and the
    latest alerts of older history (stored, never published: RULES.md §7)."""
    lines = [("As of", _when(status["as_of"]) + (", run under way" if status.get("live") else ""))]
    lines.append(("Week", _week(status)))
    if status.get("change_pct") is not None:
        lines.append(("Change", f"{status['change_pct']:+.0f} % on the week before"))
    lines.append(("Knee gate", _gate(status, gate_report)))
    if status.get("acwr") is not None:
        verdict = "above the 0.8–1.3 sweet spot" if status["acwr"] > ACWR_ELEVATED else "within range"
        ewma = f", EWMA {status['acwr_ewma']:.2f}" if status.get("acwr_ewma") is not None else ""
        lines.append(("ACWR", f"{status['acwr']:.2f} ({verdict}){ewma}"))
    lines.append(("Cadence", _cadence(status)))
    if status.get("rtr_phase"):
        lines.append(
            ("Return to run", f"phase {status['rtr_phase']}" if status["rtr_phase"] != "complete" else "complete")
        )
    if alerts:
        for alert in alerts:
            lines.append(("Alert", f"{_when(alert['time'])} {alert['severity']} {alert['rule']}: {alert['message']}"))
    else:
        lines.append(("Alerts", "none in the last 7 days"))
    for alert in earlier:
        lines.append(
            (
                "Earlier alert",
                f"{_when(alert['time'])} {alert['severity']} {alert['rule']}: "
                f"{alert['message']} (history: stored, not sent)",
            )
        )
    return lines


def _week(status: dict) -> str:
    text = f"{status['week_km']:.1f} km in the last 7 days (the week before: {status['prev_week_km']:.1f} km)"
    if status.get("budget_km") is None:
        return text + "; no budget yet: it needs a previous week"
    if status["gate"] == "reduce_volume":  # the cut applies to the week before the gate, not to last week
        return text + f"; {status['budget_km']:.1f} km left"
    allowed = status["prev_week_km"] * GATE_FACTORS[status["gate"]]
    return text + f"; {status['budget_km']:.1f} km left of the {allowed:.1f} km allowed"


def _gate(status: dict, report: dict | None) -> str:
    text = GATE_WORDS.get(status["gate"], status["gate"])
    if report:
        flags = f", {report['flags']}" if report.get("flags") else ""
        text += f" — set by pain {report['score']}/10 ({report.get('timing', '?')}{flags}) on {_when(report['time'])}"
    return text


def _cadence(status: dict) -> str:
    last = (status.get("last_run") or {}).get("cadence_spm")
    base = status.get("cadence_baseline_spm")
    text = f"{last:.0f} spm on the last run" if last else "no running cadence on the last run"
    if base:
        text += f"; baseline {base:.0f} spm"
        if last:
            text += f" ({(last - base) / base * 100:+.1f} %)"
    return text


def _when(value) -> str:
    if isinstance(value, (int, float)):
        value = iso(int(value))
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def retained_status(settings: Settings, runner: str, timeout_s: float = 3.0) -> dict | None:
    """The retained `status/{runner}` message, if the broker has one."""
    from footpod.mqtt import mqtt_client

    received: list[dict] = []
    arrived = threading.Event()
    client = mqtt_client(settings, f"footpod-ask-{time.time_ns()}")

    def on_message(client, userdata, message):
        received.append(json.loads(message.payload))
        arrived.set()

    client.on_message = on_message
    client.on_connect = lambda c, *args: c.subscribe(f"status/{runner}", qos=1)
    _start(client, settings)
    arrived.wait(timeout_s)
    client.loop_stop()
    client.disconnect()
    return received[-1] if received else None


def _start(client, settings: Settings) -> None:
    """Connect and run the network loop, or say in one line that the broker is out of reach."""
    endpoint = settings.mqtt
    try:
        client.connect(endpoint.host, endpoint.port)
    except OSError as error:
        raise FootpodError(f"cannot reach the MQTT broker at {endpoint.host}:{endpoint.port}: {error}") from error
    client.loop_start()


def status_lines(settings: Settings, runner: str) -> list[tuple[str, str]]:
    status = retained_status(settings, runner)
    if status is None:
        raise FootpodError(f"no status for '{runner}' yet: it appears after the runner's first run")
    gate_report = None
    if status.get("gate_since"):
        since = int(datetime.fromisoformat(status["gate_since"].replace("Z", "+00:00")).timestamp() * 1000)
        rows = query_now(settings, schema.report_at_query(runner, since))
        gate_report = rows[0] if rows else None
    alerts = query_now(settings, schema.recent_alerts_query(runner, days=7, limit=10))
    earlier = query_now(settings, schema.earlier_alerts_query(runner, days=7, limit=EARLIER_ALERTS_SHOWN))
    return describe_status(status, gate_report, alerts, earlier)


def publish_pain(
    settings: Settings, runner: str, score: int, flags: list[str], during: bool, worsening: bool
) -> PainReport:
    """Validate and publish a report on `footpod/{runner}/pain` (QoS 1), as the phone does."""
    from pydantic import ValidationError

    from footpod.contract import is_runner_name
    from footpod.mqtt import mqtt_client

    if not is_runner_name(runner):
        raise UsageError(f"'{runner}' is not a runner name: 1-64 of A-Z a-z 0-9 _ . -")
    payload = {"ts": int(time.time() * 1000), "score": score, "flags": flags, "worsening": worsening}
    if during:
        payload["timing"] = "during"
    try:
        report = PainReport.model_validate(payload)
    except ValidationError as error:
        raise UsageError(f"not a valid report: {error.errors(include_url=False)[0]['msg']}") from error
    client = mqtt_client(settings, f"footpod-pain-{time.time_ns()}")
    _start(client, settings)
    client.publish(f"footpod/{runner}/pain", json.dumps(payload), qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    return report
