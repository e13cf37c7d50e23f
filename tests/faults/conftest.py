"""The fault suite (FAULTS.md): real servers, real processes, a ledger per test, and a table
of the numbers at the end of the session."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from monitor import servers
from tests.faults.fault_ledger import RESULTS, KafkaTail
from tests.integration.stack import Stack

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix (FAULTS.md): ledgers")
    write(f"{'row':<34} {'sent':>7} {'lost':>5} {'double':>6} {'redeliv':>7} {'p99 ms':>8}  pass  notes")
    for r in RESULTS:
        p99 = f"{r.p99_ms:.0f}" if r.p99_ms is not None else "-"
        notes = ", ".join(f"{k}={v}" for k, v in r.notes.items())
        write(
            f"{r.row:<34} {r.sent:>7} {r.lost:>5} {r.double:>6} {r.redelivered:>7} {p99:>8}  "
            f"{'yes' if r.passed else 'NO':<4}  {notes}"
        )


class IngestStack(Stack):
    """Mosquitto, Kafka (Tansu) and the bridge alone: what reaches Kafka is what the bridge handed off."""

    mqtt_server: servers.Server
    kafka_server: servers.Server

    @property
    def bridge(self):
        return self.stages["bridge"]

    def restart_mosquitto(self) -> None:
        """A graceful restart: SIGTERM (Mosquitto saves its store), then start on the same port and data."""
        self.mqtt_server.stop()
        self.mqtt_server = servers.mosquitto(self.data_dir / "mosquitto", port=self.mqtt_port).start()


@pytest.fixture
def ingest(tmp_path):
    mqtt_server = servers.mosquitto(tmp_path / "mosquitto", port=servers.free_port()).start()
    kafka_server = servers.tansu(tmp_path, port=servers.free_port()).start()
    stack = IngestStack(tmp_path, mqtt_server.port, kafka_server.port, influx_port=servers.free_port())
    stack.mqtt_server, stack.kafka_server = mqtt_server, kafka_server
    try:
        stack.start_stage("bridge")
        stack.wait_ready("bridge")
        yield stack
    finally:
        for process in (stack.kafka_server.process, stack.stages.get("bridge")):
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
        stack.stop_stages()
        stack.kafka_server.stop()
        stack.mqtt_server.stop()


@pytest.fixture
def arrivals(ingest):
    tail = KafkaTail(ingest.kafka_bootstrap)
    yield tail
    tail.close()
