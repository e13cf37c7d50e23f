"""Operators see that it works: each stage's /metrics after a simulated team ran, and /healthz.

The stages run on servers of their own (`pipeline` here replaces the session's, and conftest's
`watch` and `phone` use it): the dead letter and the alert this module makes stay out of the
session pipeline whose dead letters and alerts other tests count.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.stack import own_pipeline
from tests.integration.training import daily_runs, midnight_days_ago

STAGES = ("bridge", "stream", "alerts")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    with own_pipeline(tmp_path_factory.mktemp("metrics-stack"), STAGES) as stack:
        yield stack


def scrape(stack, stage: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a stage's /metrics."""
    response = httpx.get(f"http://127.0.0.1:{stack.metrics_ports[stage]}/metrics", timeout=5)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: dict, name: str, **labels) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def lag_of(samples: dict) -> list[float]:
    """The stream's consumer lag on footpod.samples, one value per partition it reported."""
    return [
        value
        for (name, labels), value in samples.items()
        if name == "footpod_consumer_lag_records" and ("topic", "footpod.samples") in labels
    ]


def test_every_stage_is_healthy_and_answers_json(pipeline):
    for stage in STAGES:
        response = httpx.get(f"http://127.0.0.1:{pipeline.metrics_ports[stage]}/healthz", timeout=5)
        assert response.status_code == 200, (stage, response.text)
        assert response.json()["status"] == "ok"


def test_a_simulated_team_shows_in_every_stages_counters(pipeline, watch, phone):
    before = {stage: scrape(pipeline, stage) for stage in STAGES}
    watcher = watch("alerts/unassigned/#")
    # three weeks ending yesterday: the progression crosses +10 % on the fourth day of the third week,
    # 4 days ago on any weekday (from a Monday 3 ISO weeks back it was 7 days old by Thursday 06:28
    # UTC, and no longer pushed: RULES.md §7, FOOTPOD_PUSH_WITHIN_DAYS)
    first_day = midnight_days_ago(21)
    team = {
        "mira": daily_runs("mira-pod", first_day, [30.0, 30.0, 36.0]),  # +20 %: a progression alert
        "omar": daily_runs("omar-pod", first_day, [20.0, 20.0, 20.0]),
    }
    sent = 0
    for name, runs in team.items():
        for run in runs:
            phone(f"footpod/{name}/samples", run)
            sent += len(run)
    phone("footpod/omar/samples", b"[1, 2")  # one dead letter
    watcher.wait_for(
        lambda: [a for a in watcher.on("alerts/unassigned/mira") if a["rule"] == "progression"],
        what="mira's progression alert",
    )

    def delta(stage: str, name: str, **labels) -> float:
        return total(after[stage], name, **labels) - total(before[stage], name, **labels)

    deadline = time.monotonic() + 60
    while True:
        after = {stage: scrape(pipeline, stage) for stage in STAGES}
        settled = (
            delta("bridge", "footpod_samples_in_total") >= sent
            and delta("stream", "footpod_samples_in_total") >= sent
            and delta("alerts", "footpod_alerts_published_total", rule="progression") >= 1
            and total(after["stream"], "footpod_store_backlog_points") == 0
            and total(after["alerts"], "footpod_store_backlog_points") == 0
            and lag_of(after["stream"])
            and sum(lag_of(after["stream"])) == 0
        )
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    print(
        f"sent {sent} samples; bridge in {delta('bridge', 'footpod_samples_in_total'):.0f}, "
        f"stream in {delta('stream', 'footpod_samples_in_total'):.0f}, "
        f"stream points written {delta('stream', 'footpod_store_points_written_total'):.0f}, "
        f"alerts points written {delta('alerts', 'footpod_store_points_written_total'):.0f}, "
        f"progression alerts {delta('alerts', 'footpod_alerts_published_total', rule='progression'):.0f}"
    )
    assert delta("bridge", "footpod_samples_in_total") == sent  # each sample once, none lost
    assert delta("bridge", "footpod_dead_letters_total", reason="not JSON") == 1
    assert delta("stream", "footpod_samples_in_total") >= sent
    assert delta("stream", "footpod_store_points_written_total") > 0
    assert delta("alerts", "footpod_store_points_written_total") > 0
    assert delta("alerts", "footpod_alerts_published_total", rule="progression", severity="warning") >= 1
    assert total(after["stream"], "footpod_store_backlog_points") == 0
    assert total(after["stream"], "footpod_store_points_refused_total") == 0
    lag = lag_of(after["stream"])
    assert lag and sum(lag) == 0, f"the stream's lag per partition, all read and committed: {lag}"
    assert total(after["bridge"], "footpod_ready") in (0.0, 1.0)


def test_a_live_sample_is_timed_by_every_stage_and_an_old_one_by_none(pipeline, phone):
    """`footpod_live_delay_seconds`: from a sample's timestamp until each stage has handled it."""

    def delays() -> dict[str, tuple[float, float]]:
        scraped = {stage: scrape(pipeline, stage) for stage in STAGES}
        return {
            stage: (
                total(scraped[stage], "footpod_live_delay_seconds_count", stage=stage),
                total(scraped[stage], "footpod_live_delay_seconds_sum", stage=stage),
            )
            for stage in STAGES
        }

    before = delays()
    now_ms = int(time.time() * 1000)
    sample = {"device_id": "lena-pod", "cadence_spm": 170.0}
    phone("footpod/lena/samples", [{**sample, "ts": now_ms - 3 * 86_400_000, "distance_m": 0.0}])  # a sync
    phone("footpod/lena/samples", [{**sample, "ts": now_ms, "distance_m": 3.0}])  # live, and the newest
    deadline = time.monotonic() + 30
    while (after := delays())["alerts"][0] - before["alerts"][0] < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1)  # anything more would have come by now
    after = delays()
    count = {stage: after[stage][0] - before[stage][0] for stage in STAGES}
    seconds = {stage: after[stage][1] - before[stage][1] for stage in STAGES}
    print(count, seconds)
    assert count == {"bridge": 1, "stream": 1, "alerts": 1}  # the sync is older than a minute: not live
    # one sample, handled by each stage in turn: later at each
    assert 0 < seconds["bridge"] <= seconds["stream"] <= seconds["alerts"] < 30


def test_every_line_each_stage_logged_is_one_json_object(pipeline):
    """Off a terminal (here a file, in production `docker logs`) the log is JSON lines."""
    for stage in STAGES:
        lines = (pipeline.data_dir / "logs" / f"{stage}.log").read_text().splitlines()
        assert lines, stage
        for line in lines:
            entry = json.loads(line)
            assert {"ts", "level", "logger", "msg"} <= set(entry), line


def test_healthz_turns_503_with_the_reason_when_the_broker_goes_away(pipeline):
    """Last in this module: it stops the module's MQTT broker."""
    pipeline.running["mqtt"].stop()

    def health(stage):
        response = httpx.get(f"http://127.0.0.1:{pipeline.metrics_ports[stage]}/healthz", timeout=5)
        return response.status_code, response.json()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answers = {stage: health(stage) for stage in ("bridge", "alerts")}
        if all(status == 503 for status, _ in answers.values()):
            break
        time.sleep(0.5)
    print(answers)
    assert answers["bridge"] == (503, {"status": "unavailable", "reason": "MQTT connection lost; reconnecting"})
    assert answers["alerts"] == (503, {"status": "unavailable", "reason": "MQTT broker not connected"})
    assert health("stream")[0] == 200  # the stream needs no MQTT
