"""The gateway over simulated pods (no radio, no broker): 1 Hz samples, reconnects, bad bytes, units."""

import asyncio
import logging
import time

import pytest

from ingest.gateway.clock import ScaledClock
from ingest.gateway.distance import MAX_GAP_S
from ingest.gateway.fake import FakePod, FakeRadio, simulated_pods
from ingest.gateway.gateway import Gateway, Publisher
from ingest.gateway.queue import Outbox
from ingest.gateway.samples import PodConfig
from tests.unit.ingest.gateway_fakes import FakeMqtt

WALL = int(time.time() * 1000)
SPEEDUP = 20.0  # simulated seconds per second


def run_gateway(tmp_path, fakes, pods, sim_seconds: float):
    """Run the gateway for `sim_seconds` of simulated time; its outbox, the published samples, the gateway."""
    now = int(time.time() * 1000)
    clock = ScaledClock(now, now - 3_600_000, SPEEDUP)
    outbox, client = Outbox(tmp_path / "outbox.db"), FakeMqtt(auto_ack=True)
    publisher = Publisher(outbox, client)
    client.connect()
    gateway = Gateway(FakeRadio(fakes, clock), outbox, publisher, pods, clock)

    async def main():
        task = asyncio.create_task(gateway.run(drain_s=1.0))
        await asyncio.sleep(sim_seconds / SPEEDUP)
        gateway.stop()
        await task

    asyncio.run(main())
    return outbox, client, gateway


def configs(fakes, units=None):
    return {
        fake.address: PodConfig(fake.address, f"r{i}", (units or {}).get(fake.address, fake.counts))
        for i, fake in enumerate(fakes)
    }


def test_each_pod_gives_one_sample_a_second_with_a_contiguous_seq_and_a_growing_distance(tmp_path):
    fakes = simulated_pods(4, epoch_ms=WALL - 3_600_000)
    outbox, client, gateway = run_gateway(tmp_path, fakes, configs(fakes), sim_seconds=60)

    for fake in fakes:
        samples = [s for _, _, batch in client.published for s in batch if s["device_id"] == fake.address]
        assert len(samples) >= 30, fake
        assert [s["seq"] for s in samples] == list(range(len(samples)))
        assert all(s["ts"] % 1000 == 0 for s in samples)
        assert all(b["ts"] > a["ts"] for a, b in zip(samples, samples[1:]))
        distances = [s["distance_m"] for s in samples]
        assert distances == sorted(distances)
        # total-distance pods: every step counts; speed-only pods: steps across a silence over 5 s do not
        covered = sum(
            fake.distance_at(b["ts"]) - fake.distance_at(a["ts"])
            for a, b in zip(samples, samples[1:])
            if fake.total_distance or b["ts"] - a["ts"] <= MAX_GAP_S * 1000
        )
        # the odometer steps at the notifications, up to 3 s before a tick: ± 2 × 3 s × 3.6 m/s
        assert distances[-1] - distances[0] == pytest.approx(covered, abs=22)
        assert all(s["cadence_spm"] > 150 for s in samples)  # each pod's unit applied
    assert outbox.pending == 0


def test_a_pod_that_drops_out_is_connected_again(tmp_path):
    fake = FakePod("F0:0D:00:00:00:01", epoch_ms=WALL - 3_600_000, drop_every_s=10.0)
    radio_pods = configs([fake])
    outbox, client, gateway = run_gateway(tmp_path, [fake], radio_pods, sim_seconds=60)

    assert gateway.radio.connects[fake.address] >= 3
    seqs = client.seqs(fake.address)
    assert len(seqs) >= 30 and seqs == list(range(len(seqs)))


def test_bytes_that_are_no_rsc_measurement_are_counted_and_named_once(tmp_path, caplog):
    fake = FakePod("F0:0D:00:00:00:01", epoch_ms=WALL)
    outbox = Outbox(tmp_path / "outbox.db")
    gateway = Gateway(
        FakeRadio([fake], ScaledClock(WALL, WALL, 1.0)),
        outbox,
        Publisher(outbox, FakeMqtt()),
        configs([fake]),
        ScaledClock(WALL, WALL, 1.0),
    )

    with caplog.at_level(logging.WARNING, logger="footpod.gateway"):
        for _ in range(3):
            gateway.on_value(fake.address, bytes.fromhex("070003125600000000"))
    assert gateway.pods[fake.address].rejected == 3
    assert [r.getMessage() for r in caplog.records] == [
        "pod F0:0D:00:00:00:01 (r0): flags 0x07 announce 10 bytes, 9 received"
    ]
    assert gateway.tick(WALL + 1000) == 0  # nothing decoded, no sample


def test_a_pod_counting_both_feet_listed_as_per_foot_is_warned_about_once(tmp_path, caplog):
    fake = FakePod("F0:0D:00:00:00:02", epoch_ms=WALL - 3_600_000, counts="both_feet")
    with caplog.at_level(logging.WARNING, logger="footpod.gateway"):
        _, client, _ = run_gateway(tmp_path, [fake], configs([fake], {fake.address: "per_foot"}), sim_seconds=20)

    warnings = [r.getMessage() for r in caplog.records if "set `cadence: both_feet`" in r.getMessage()]
    assert len(warnings) == 1
    assert all(150 < s["cadence_spm"] < 200 for _, _, batch in client.published for s in batch)


def test_pods_advertising_that_no_runner_wears_are_named_and_not_read(tmp_path, caplog):
    worn, stranger = simulated_pods(2, epoch_ms=WALL - 3_600_000)
    with caplog.at_level(logging.WARNING, logger="footpod.gateway"):
        _, client, _ = run_gateway(tmp_path, [worn, stranger], configs([worn]), sim_seconds=5)

    assert any(stranger.address in r.getMessage() and "no runner" in r.getMessage() for r in caplog.records)
    assert {s["device_id"] for _, _, batch in client.published for s in batch} == {worn.address}
