"""Deterministic training for the integration tests: runs as phones sync them, and a ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY_MS = 86_400_000
SPEED_MPS = 3.0


def monday_weeks_ago(weeks: int) -> int:
    """Epoch ms of Monday 00:00 UTC, `weeks` ISO weeks before the current one."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday(), weeks=weeks)
    return int(monday.timestamp() * 1000)


def midnight_days_ago(days: int) -> int:
    """Epoch ms of 00:00 UTC `days` days before today: runs that end before today whatever the
    weekday and hour, so an alert they cause is as old on every day the tests run."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((today - timedelta(days=days)).timestamp() * 1000)


def run(device: str, start_ms: int, km: float, cadence: float = 172.0) -> list[dict]:
    """A steady run at 1 Hz: 3 m a second."""
    count = int(km * 1000 / SPEED_MPS) + 1
    return [
        {
            "ts": start_ms + i * 1000,
            "device_id": device,
            "cadence_spm": cadence,
            "distance_m": i * SPEED_MPS,
            "speed_mps": SPEED_MPS,
        }
        for i in range(count)
    ]


def run_km(samples: list[dict]) -> float:
    return (samples[-1]["distance_m"] - samples[0]["distance_m"]) / 1000


def daily_runs(device: str, first_monday_ms: int, weekly_km: list[float], hour: int = 6) -> list[list[dict]]:
    """A run every day at `hour` UTC; week w's runs are weekly_km[w] / 7 each."""
    runs = []
    for week, km in enumerate(weekly_km):
        for day in range(7):
            start = first_monday_ms + (week * 7 + day) * DAY_MS + hour * 3_600_000
            runs.append(run(device, start, km / 7))
    return runs


def trailing_km(runs: list[list[dict]], as_of_ms: int, days_back_from: int, days_back_to: int) -> float:
    """Ledger distance of runs ending in (as_of - from days, as_of - to days]."""
    return sum(
        run_km(r) for r in runs if as_of_ms - days_back_from * DAY_MS < r[-1]["ts"] <= as_of_ms - days_back_to * DAY_MS
    )
