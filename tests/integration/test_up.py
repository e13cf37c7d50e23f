"""`footpod-monitor up`: the local stack from one command, and one clear line when it cannot start."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from monitor import servers


def stack_env(tmp_path, **ports):
    return {
        **os.environ,
        "FOOTPOD_MQTT_URL": f"mqtt://127.0.0.1:{ports['mqtt']}",
        "FOOTPOD_KAFKA_URL": f"kafka://127.0.0.1:{ports['kafka']}",
        "FOOTPOD_INFLUX_URL": f"http://127.0.0.1:{ports['influx']}",
        "FOOTPOD_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "kill"])
def test_up_starts_everything_says_ready_runs_a_team_and_stops_it_all(tmp_path, stop_signal):
    ports = {name: servers.free_port() for name in ("mqtt", "kafka", "influx")}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "up", "--no-view", "--simulate", "2"],
        env=stack_env(tmp_path, **ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("2 runners with a status"):
                break
        assert any(line.startswith("ready") for line in lines), lines
        assert lines[-1].startswith("2 runners with a status"), lines
    finally:
        process.send_signal(stop_signal)
        assert process.wait(60) == 0
    assert not any(servers.port_open("127.0.0.1", port) for port in ports.values())


def test_a_port_taken_by_something_else_is_one_clear_line(tmp_path):
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    ports = {"mqtt": servers.free_port(), "kafka": servers.free_port(), "influx": squatter.getsockname()[1]}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "up", "--no-view"],
            env=stack_env(tmp_path, **ports),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        squatter.close()
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "taken" in error[0] and "FOOTPOD_INFLUX_URL" in error[0], result.stderr
    assert not servers.port_open("127.0.0.1", ports["mqtt"]), "the servers it had started were not stopped"
