"""The bridge's hand-offs to Kafka: live messages trickling in are gathered for `HANDOFF_LINGER_S`
into one hand-off, not one per burst; a sync's messages fill hand-offs by bytes; every message is
handed off once, in order."""

from __future__ import annotations

import asyncio
import time

from footpod.settings import Settings
from ingest.bridge import BATCH_BYTES, HANDOFF_LINGER_S, Bridge, Delivery, Inbox


def a_bridge(tmp_path) -> tuple[Bridge, list[list[int]]]:
    """A bridge whose hand-offs are recorded (message ids per hand-off) instead of sent to Kafka."""
    bridge = Bridge(Settings(_env_file=None, data_dir=tmp_path), client_id="test")
    handed: list[list[int]] = []

    async def hand_off_then_ack(client, producer, deliveries, verdicts):
        handed.append([delivery.mid for delivery in deliveries])
        bridge._in_flight.release()

    bridge._hand_off_then_ack = hand_off_then_ack
    return bridge, handed


LIVE = b'{"ts": 1, "device_id": "pod", "cadence_spm": 170, "distance_m": 1}'


def sample(mid: int, payload: bytes = LIVE) -> Delivery:
    return Delivery(mid, 1, f"footpod/r{mid % 50}/samples", payload, int(time.time() * 1000))


def test_messages_trickling_in_within_the_linger_go_to_kafka_in_one_hand_off(tmp_path):
    bursts, per_burst = 10, 5  # 1,000 live runners: a few messages every few ms

    async def scenario():
        bridge, handed = a_bridge(tmp_path)
        bridge._inbox = Inbox(asyncio.get_running_loop())

        async def runners():
            for burst in range(bursts):
                for i in range(per_burst):
                    bridge._inbox.put(sample(burst * per_burst + i))
                await asyncio.sleep(HANDOFF_LINGER_S / (2 * bursts))  # all within half the linger

        feeding = asyncio.ensure_future(runners())
        await bridge._forward_batch(client=None, producer=None)
        await feeding
        await asyncio.sleep(0)
        return handed

    handed = asyncio.run(scenario())
    assert handed == [list(range(bursts * per_burst))]  # one hand-off, every message once, in order


def test_a_sync_fills_hand_offs_by_bytes_without_waiting_for_the_linger(tmp_path, monkeypatch):
    lingered: list[float] = []
    sleep = asyncio.sleep

    async def counted_sleep(delay, *args, **kwargs):
        lingered.append(delay)
        return await sleep(delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", counted_sleep)
    payload = b"x" * 40_000  # a synced message of ~800 samples
    total = 4 * (BATCH_BYTES // len(payload) + 1)  # more than three hand-offs' worth: three are full

    async def scenario():
        bridge, handed = a_bridge(tmp_path)
        bridge._inbox = Inbox(asyncio.get_running_loop())
        for mid in range(total):
            bridge._inbox.put(sample(mid, payload))
        for _ in range(3):
            await bridge._forward_batch(client=None, producer=None)
        await sleep(0)
        return handed

    handed = asyncio.run(scenario())
    assert [mid for part in handed for mid in part] == list(range(len(sum(handed, []))))
    assert all(len(part) * len(payload) >= BATCH_BYTES for part in handed)  # full by bytes
    assert len(handed) == 3
    assert lingered == []  # a full hand-off does not wait


def test_the_linger_is_bounded_so_a_lone_live_sample_goes_on(tmp_path):
    async def scenario():
        bridge, handed = a_bridge(tmp_path)
        bridge._inbox = Inbox(asyncio.get_running_loop())
        bridge._inbox.put(sample(7))
        began = time.perf_counter()
        await bridge._forward_batch(client=None, producer=None)
        await asyncio.sleep(0)
        return handed, time.perf_counter() - began

    handed, took = asyncio.run(scenario())
    assert handed == [[7]]
    assert HANDOFF_LINGER_S * 0.9 <= took < HANDOFF_LINGER_S + 1.0
