"""The simulated team trains like a club: steady runners steady, overreaching ones over +10 %."""

import random

from monitor.simulate import DAY_MS, Runner, history


def weekly_km(runs, now_ms, weeks):
    totals = []
    for week in range(weeks, 0, -1):
        start, end = now_ms - week * 7 * DAY_MS, now_ms - (week - 1) * 7 * DAY_MS
        totals.append(sum((r[-1]["distance_m"] - r[0]["distance_m"]) / 1000 for r in runs if start <= r[0]["ts"] < end))
    return totals


def test_a_steady_runner_changes_less_than_10_percent_a_week_and_an_overreacher_more():
    now = 1_764_000_000_000
    steady = Runner("a", "pod-a", 30.0, 3.0, 172.0, overreaching=False)
    over = Runner("b", "pod-b", 30.0, 3.0, 172.0, overreaching=True)
    calm = weekly_km(history(steady, now, 3, random.Random(1)), now, 3)
    hot = weekly_km(history(over, now, 3, random.Random(1)), now, 3)
    assert all(abs(b - a) / a < 0.10 for a, b in zip(calm, calm[1:]))
    assert hot[-1] / hot[-2] > 1.2
