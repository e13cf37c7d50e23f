"""A run under way: status every few seconds with `live: true`, and `budget_reached` mid-run."""

import time

from tests.integration.training import DAY_MS, run


def test_a_live_run_that_passes_the_weekly_budget_raises_budget_reached(pipeline, watch, phone):
    now = int(time.time() * 1000)
    # the week before: 10 km; this week so far: 10.5 km; allowed at +10 %: 11 km
    history = [run("erin-pod", now - 10 * DAY_MS, 10.0), run("erin-pod", now - 2 * DAY_MS, 10.5)]
    watcher = watch("status/erin", "alerts/+/erin")
    for samples in history:
        phone("footpod/erin/samples", samples)
    watcher.wait_for(lambda: watcher.on("status/erin"), what="erin's status after the synced runs")

    live = run("erin-pod", now - 400_000, 1.2)  # 1.2 km ending now: the week reaches 11.7 km
    shift = now - live[-1]["ts"]
    for sample in live:
        phone("footpod/erin/samples", {**sample, "ts": sample["ts"] + shift})
    alert = watcher.wait_for(
        lambda: [a for a in watcher.on("alerts/") if a["rule"] == "budget_reached"], timeout_s=30, what="budget_reached"
    )[0]
    assert alert["action"] == "end_run" and alert["severity"] == "info"
    assert alert["details"]["allowed_week_km"] == 11.0
    # the run's latest status, published with the alert, shows the budget used up
    watcher.wait_for(
        lambda: [s for s in watcher.on("status/erin") if s["live"] and s["budget_km"] == 0.0],
        timeout_s=15,
        what="a live status with no budget left",
    )
    assert len([a for a in watcher.on("alerts/") if a["rule"] == "budget_reached"]) == 1
