"""A live runner's status is made only when it goes out: at once for the first, then at its turn,
from the runner's latest update, as it would have been made when that update arrived."""

import asyncio
import json
import time

from alerts.decide import status_of
from alerts.pacing import StatusPace
from footpod.records import RunnerUpdate, RunSummary
from tests.unit.alerts.test_arrival_order import update_for
from tests.unit.alerts.test_worker_acks import worker


class Publisher:
    def __init__(self):
        self.statuses: list[dict] = []

    async def publish(self, topic, payload, retain=False):
        if topic.startswith("status/"):
            self.statuses.append(json.loads(payload))


def live_update(km: float, start_ms: int) -> RunnerUpdate:
    """The stream's update of a run under way, `km` into it."""
    run = RunSummary(
        run_id="today",
        device_id="pod-1",
        start_ms=start_ms,
        end_ms=start_ms + int(km * 300_000),
        km=km,
        samples=int(km * 300),
        cadence_spm=172.0,
    )
    update = update_for([run], run)
    live = tuple(e.model_copy(update={"live": True, "final": False}) for e in update.touched)
    return update.model_copy(update={"touched": live, "latest": live[0]})


def test_held_live_statuses_go_out_at_their_turn_as_the_latest_update_made_them(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        alerts.publisher = Publisher()
        start = int(time.time() * 1000) - 3_600_000
        updates = [live_update(km, start) for km in (1.0, 2.0, 3.0)]
        for update in updates:
            await alerts.on_update(update)
        published_at_once = list(alerts.publisher.statuses)
        await alerts.publish_held_statuses()  # not its turn yet
        not_yet = len(alerts.publisher.statuses)
        memory = alerts.memory["ana"]
        memory.pace = StatusPace(last_live_s=memory.pace.last_live_s - 60, held=memory.pace.held)  # its turn came
        await alerts.publish_held_statuses()
        await alerts.publish_held_statuses()  # released once
        expected = status_of(updates[-1], alerts.facts("ana", memory))
        return published_at_once, not_yet, alerts.publisher.statuses, expected

    published_at_once, not_yet, statuses, expected = asyncio.run(scenario())
    assert [s["week_km"] for s in published_at_once] == [1.0]  # the first live status, at once
    assert not_yet == 1
    assert [s["week_km"] for s in statuses] == [1.0, 3.0]  # then the latest, not the first held
    assert statuses[-1] == json.loads(expected.model_dump_json())
    assert statuses[-1]["live"] is True
