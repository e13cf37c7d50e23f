"""A stream worker killed with SIGKILL comes back with the right state (seeded from the store)."""

import signal

from tests.integration.training import daily_runs, monday_weeks_ago, run, trailing_km


def test_a_killed_stream_worker_restarts_with_the_runs_it_had_counted(pipeline, watch, phone):
    first_monday = monday_weeks_ago(2)
    runs = daily_runs("dave-pod", first_monday, [28.0, 28.0])[:-2]
    watcher = watch("status/dave")
    for samples in runs:
        phone("footpod/dave/samples", samples)
    last = runs[-1][-1]["ts"]
    watcher.wait_for(
        lambda: any(s["last_run"]["end"].startswith(_minute(last)) for s in watcher.on("status/dave")),
        what="dave's status before the kill",
    )
    stream = pipeline.stages["stream"]
    stream.send_signal(signal.SIGKILL)
    stream.wait(10)
    pipeline.start_stage("stream")
    pipeline.wait_ready("stream")

    extra = run("dave-pod", last + 3 * 3_600_000, 4.0)
    phone("footpod/dave/samples", extra)
    end = extra[-1]["ts"]
    status = watcher.wait_for(
        lambda: [s for s in watcher.on("status/dave") if s["last_run"]["end"].startswith(_minute(end))],
        timeout_s=90,
        what="dave's status after the restart",
    )[-1]
    expected = trailing_km([*runs, extra], end, 7, 0)
    assert abs(status["week_km"] - expected) <= 0.01 * expected, (status, expected)
    assert abs(status["prev_week_km"] - trailing_km(runs, end, 14, 7)) <= 0.3


def _minute(ms: int) -> str:
    from footpod.contract import iso

    return iso(ms)[:16]


def test_a_run_open_when_the_stream_was_killed_is_concluded_after_the_restart(pipeline, watch, phone):
    """Run closing is not in memory only: the open run is read back from the store and judged."""
    import time

    now = int(time.time() * 1000)
    live = run("gina-pod", now - 240_000 - 600_000, 2.0)  # ends 4 minutes ago: still live for a minute
    shift = now - 240_000 - live[-1]["ts"]
    watcher = watch("status/gina")
    phone("footpod/gina/samples", [{**s, "ts": s["ts"] + shift} for s in live])
    watcher.wait_for(lambda: [s for s in watcher.on("status/gina") if s["live"]], what="gina's live status")
    stream = pipeline.stages["stream"]
    stream.send_signal(signal.SIGKILL)
    stream.wait(10)
    pipeline.start_stage("stream")
    pipeline.wait_ready("stream")
    final = watcher.wait_for(
        lambda: [s for s in watcher.on("status/gina") if not s["live"]],
        timeout_s=120,
        what="gina's status once her run is over",
    )[-1]
    assert abs(final["last_run"]["km"] - 2.0) < 0.01
