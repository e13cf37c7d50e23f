"""`footpod-monitor import` on the real stack: two real FIT runs in, read back from InfluxDB;
the same folder again changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from footpod.settings import Settings
from ingest.importer import MqttPublisher
from monitor import servers
from tests.integration.stack import MqttWatcher, wait_for

FIT = Path(__file__).resolve().parents[1] / "data" / "fit"
RUNNER = "ivan"
# the sessions' total distances, as the files state them (tests/data/fit/README.md)
SESSIONS = {"compressed-speed-distance.fit": 10_248.67, "activity-small-fenix2-run.fit": 9_008.22}
MARKER = "garmin-fenix-5-run.fit"


def influxql(stack, query: str) -> list[list]:
    response = httpx.get(f"{stack.influx_url}/query", params={"db": "footpod", "q": query, "epoch": "ms"})
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return [values for s in series for values in s["values"]]


def runs_stored(stack) -> dict[str, float]:
    rows = influxql(stack, f"SELECT run_id, km FROM run WHERE runner = '{RUNNER}'")
    return {run_id: km for _time, run_id, km in rows}


def import_cli(stack, *paths: Path, runner: str = RUNNER) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "import", "--runner", runner, "--no-progress", *map(str, paths)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_imported_fit_runs_reach_the_store_with_their_distance_and_count_once(pipeline, tmp_path):
    season = tmp_path / "season"
    (season / "2015").mkdir(parents=True)
    shutil.copy(FIT / "compressed-speed-distance.fit", season)
    shutil.copy(FIT / "activity-small-fenix2-run.fit", season / "2015")
    shutil.copy(FIT / "garmin-fenix-5-walk.fit", season)  # skipped: a walk

    first = import_cli(pipeline, season)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 runs" in first.stderr, first.stderr

    expected_km = sum(SESSIONS.values()) / 1000
    stored = wait_for(
        lambda: (
            lambda runs: (
                runs if len(runs) == 2 and abs(sum(runs.values()) - expected_km) <= 0.01 * expected_km else None
            )
        )(runs_stored(pipeline)),
        "both runs stored with their distance",
    )
    assert all(run_id.startswith("fit:") for run_id in stored)
    for km in stored.values():
        assert min(abs(km - session / 1000) for session in SESSIONS.values()) <= 0.01 * km

    again = import_cli(pipeline, season)
    assert again.returncode == 0, again.stdout + again.stderr
    # a later run of the same runner, published after the second import, is stored only once
    # the stream has taken everything before it (one runner's samples stay in order)
    marker = import_cli(pipeline, FIT / MARKER)
    assert marker.returncode == 0, marker.stdout + marker.stderr
    after = wait_for(
        lambda: (lambda runs: runs if len(runs) == 3 else None)(runs_stored(pipeline)), "the marker run stored"
    )
    assert {run_id: km for run_id, km in after.items() if run_id in stored} == stored


def test_a_folder_with_a_rejected_file_exits_1_and_publishes_none_of_it(pipeline, tmp_path):
    shutil.copy(FIT / "strava-android-app-201.10-b1218918.fit", tmp_path)
    result = import_cli(pipeline, tmp_path, runner="judy")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rejected" in result.stdout and "7471" in result.stdout
    marker = import_cli(pipeline, FIT / MARKER, runner="judy")  # stored after anything published before it
    assert marker.returncode == 0, marker.stdout + marker.stderr
    stored = wait_for(
        lambda: influxql(pipeline, "SELECT run_id, km FROM run WHERE runner = 'judy'"), "the marker run stored"
    )
    assert len(stored) == 1 and stored[0][2] < 0.2  # only the 158 m marker: nothing of the Strava file


def ledger_listener(port: int, topic: str, client_id: str) -> tuple[MqttWatcher, mqtt.Client]:
    """A QoS 1 subscriber with a persistent session: the broker keeps its messages across a restart."""
    watcher = MqttWatcher()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    client.on_message = watcher.on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_connect = lambda c, *args: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(5)
    return watcher, client


def test_the_publisher_waits_for_every_ack_and_loses_nothing_past_its_window(stack):
    watcher, listener = ledger_listener(stack.mqtt_port, "fit-window/#", "fit-window-ledger")
    publisher = MqttPublisher(Settings(mqtt_url=f"mqtt://127.0.0.1:{stack.mqtt_port}"), "fit-window-test", window=4)
    try:
        publisher.deliver("fit-window/test", [json.dumps({"n": n}).encode() for n in range(500)])
    finally:
        publisher.close()
    received = watcher.wait_for(
        lambda: (lambda got: got if len(got) >= 500 else None)(watcher.on("fit-window/")), what="500 messages"
    )
    listener.loop_stop()
    listener.disconnect()
    assert sorted(message["n"] for message in received) == list(range(500))


def test_a_broker_restart_mid_file_loses_no_message(tmp_path):
    """FAULTS.md style ledger: every message of the delivery reaches a persistent subscriber."""
    port = servers.free_port()
    broker = servers.mosquitto(tmp_path / "mosquitto", port=port).start()
    watcher, listener = ledger_listener(port, "fit-restart/#", "fit-restart-ledger")
    publisher = MqttPublisher(Settings(mqtt_url=f"mqtt://127.0.0.1:{port}"), "fit-restart-test", window=8)
    total = 3000
    payloads = [json.dumps({"n": n, "pad": "x" * 200}).encode() for n in range(total)]
    failure: list[BaseException] = []

    def deliver() -> None:
        try:
            publisher.deliver("fit-restart/test", payloads)
        except BaseException as error:  # reported by the test thread
            failure.append(error)

    sender = threading.Thread(target=deliver)
    try:
        sender.start()
        watcher.wait_for(lambda: len(watcher.on("fit-restart/")) >= 300, what="the delivery under way")
        broker.stop()
        broker = servers.mosquitto(tmp_path / "mosquitto", port=port).start()
        sender.join(120)
        assert not sender.is_alive() and not failure, failure
        watcher.wait_for(
            lambda: {m["n"] for m in watcher.on("fit-restart/")} >= set(range(total)),
            timeout_s=60,
            what="every message",
        )
    finally:
        publisher.close()
        listener.loop_stop()
        listener.disconnect()
        broker.stop()
    counts = [m["n"] for m in watcher.on("fit-restart/")]
    lost = total - len(set(counts))
    print(f"broker restart: lost {lost}, duplicates {len(counts) - len(set(counts))}, resent {publisher.resent}")
    assert lost == 0 and publisher.resent == 1  # one drop costs one attempt


def test_an_unreachable_broker_exits_2_with_a_reason(tmp_path):
    env = {**os.environ, "FOOTPOD_MQTT_URL": f"mqtt://127.0.0.1:{servers.free_port()}"}
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "import", "--runner", "kim", "--no-progress", str(FIT / MARKER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot reach the MQTT broker" in result.stderr, result.stderr
