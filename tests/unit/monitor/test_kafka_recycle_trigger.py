"""When the local stack recycles its Kafka (FAULTS.md row 16): only the Tansu it started, only past
FOOTPOD_KAFKA_RECYCLE_MIB, and the stages it got back replace the old ones (no sockets)."""

import os
from pathlib import Path
from types import SimpleNamespace

import monitor.kafka_recycle
from footpod.settings import Settings
from monitor.servers import Server
from monitor.stack import maybe_recycle_kafka


def this_process_as_tansu() -> Server:
    server = Server("kafka (tansu)", ["tansu"], "127.0.0.1", 9092, Path("/dev/null"))
    server.process = SimpleNamespace(pid=os.getpid())  # an RSS of some MiB to measure
    return server


def fake_recycle(calls):
    def recycle(server, bootstrap, partitions, stages, start_stage, drain_timeout_s=0):
        calls.append(sorted(stages))
        stages["stream"] = "a new stream"
        return True

    return recycle


def test_past_the_limit_the_started_tansu_is_recycled_and_the_new_stages_kept(monkeypatch):
    calls = []
    monkeypatch.setattr(monitor.kafka_recycle, "recycle", fake_recycle(calls))
    processes = ["bridge", "stream", "alerts", "simulator"]
    assert maybe_recycle_kafka(Settings(_env_file=None, kafka_recycle_mib=1), [this_process_as_tansu()], processes)
    assert calls == [["alerts", "bridge", "stream"]]
    assert processes == ["bridge", "a new stream", "alerts", "simulator"]


def test_below_the_limit_or_at_zero_or_with_a_kafka_not_ours_nothing_is_recycled(monkeypatch):
    calls = []
    monkeypatch.setattr(monitor.kafka_recycle, "recycle", fake_recycle(calls))
    processes = ["bridge", "stream", "alerts"]
    assert not maybe_recycle_kafka(
        Settings(_env_file=None, kafka_recycle_mib=10**6), [this_process_as_tansu()], processes
    )
    assert not maybe_recycle_kafka(Settings(_env_file=None, kafka_recycle_mib=0), [this_process_as_tansu()], processes)
    assert not maybe_recycle_kafka(Settings(_env_file=None, kafka_recycle_mib=1), [], processes)
    assert calls == []
