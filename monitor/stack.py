"""`footpod-monitor up`: the whole pipeline on one machine, with no Docker.

For each of MQTT, Kafka and InfluxDB whose URL points at this machine: a free port gets a
server of ours (data under FOOTPOD_DATA_DIR); a port already answering the right protocol is
used as it is; anything else is one clear error. Then the three stages start, `ready` is
printed once all accept work, and Ctrl-C stops everything that was started, in reverse.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from footpod.errors import ServerStartError
from footpod.settings import Settings
from monitor import servers

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
STAGES = ("bridge", "stream", "alerts")
READY_TIMEOUT_S = 120


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"x://{url}")
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _speaks_mqtt(host: str, port: int) -> bool:
    from footpod.mqtt import mqtt_client

    connected = threading.Event()
    client = mqtt_client(Settings(mqtt_url=f"mqtt://{host}:{port}"), f"footpod-probe-{os.getpid()}")
    client.on_connect = lambda *args: connected.set()
    try:
        client.connect(host, port, keepalive=5)
        client.loop_start()
        return connected.wait(3)
    except OSError:
        return False
    finally:
        client.loop_stop()
        client.disconnect()


def _speaks_kafka(host: str, port: int) -> bool:
    import asyncio

    from aiokafka import AIOKafkaClient

    async def probe() -> bool:
        client = AIOKafkaClient(bootstrap_servers=f"{host}:{port}", request_timeout_ms=3000)
        try:
            await client.bootstrap()
            return True
        except Exception:
            return False
        finally:
            await client.close()

    return asyncio.run(probe())


def _speaks_influx(host: str, port: int) -> bool:
    try:
        return httpx.get(f"http://{host}:{port}/ping", timeout=2).status_code == 204
    except httpx.HTTPError:
        return False


def start_servers(settings: Settings, console: Console) -> list[servers.Server]:
    """Start what is missing locally; return what was started (to stop later)."""
    data = settings.data_dir.resolve()
    plan: list[tuple[str, str, str, int, Callable, Callable]] = [
        (
            "MQTT broker",
            "FOOTPOD_MQTT_URL",
            settings.mqtt_url,
            1883,
            lambda h, p: servers.mosquitto(data / "mosquitto", h, p),
            _speaks_mqtt,
        ),
        (
            "Kafka broker",
            "FOOTPOD_KAFKA_URL",
            settings.kafka_url.split(",")[0],
            9092,
            lambda h, p: servers.tansu(data, h, p),
            _speaks_kafka,
        ),
        (
            "InfluxDB",
            "FOOTPOD_INFLUX_URL",
            settings.influx_url,
            8086,
            lambda h, p: servers.influxdb(data / "influxdb", h, p),
            _speaks_influx,
        ),
    ]
    started: list[servers.Server] = []
    try:
        for name, variable, url, default_port, make, speaks in plan:
            host, port = _host_port(url, default_port)
            if host not in LOCAL_HOSTS:
                console.print(f"{name}: using {host}:{port} ({variable})")
            elif servers.port_open(host, port):
                if not speaks(host, port):
                    raise ServerStartError(
                        f"{name}: port {port} on {host} is taken by a process that does not "
                        f"answer as one; stop it or point {variable} at another port"
                    )
                console.print(f"{name}: using the one already running on {host}:{port}")
            else:
                server = make(host, port).start()
                started.append(server)
                console.print(f"{name}: started on {host}:{port} (log: {server.log_path})")
    except BaseException:
        stop_all(started, [])
        raise
    return started


def start_stages(settings: Settings) -> list[subprocess.Popen]:
    run_dir = settings.data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob("*.ready"):
        stale.unlink()
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return [start_stage(settings, stage) for stage in STAGES]


def start_stage(settings: Settings, stage: str) -> subprocess.Popen:
    (settings.data_dir / "run" / f"{stage}.ready").unlink(missing_ok=True)
    log = (settings.data_dir / "logs" / f"{stage}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", stage], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def restart_stage(settings: Settings, stage: str) -> subprocess.Popen:
    """One stage started again, once it accepts work (the Kafka recycle)."""
    process = start_stage(settings, stage)
    ready = settings.data_dir / "run" / f"{stage}.ready"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return process


def maybe_recycle_kafka(settings: Settings, started: list[servers.Server], processes: list[subprocess.Popen]) -> bool:
    """FAULTS.md row 16: the Tansu we started, restarted empty once past FOOTPOD_KAFKA_RECYCLE_MIB
    and every consumed record is committed (monitor/kafka_recycle.py)."""
    from monitor.kafka_recycle import recycle

    tansu = next((server for server in started if server.name.startswith("kafka")), None)
    if tansu is None or tansu.process is None or not settings.kafka_recycle_mib:
        return False
    status = Path(f"/proc/{tansu.process.pid}/status")
    rss_kib = next((int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmRSS:")), 0)
    if rss_kib < settings.kafka_recycle_mib * 1024:
        return False
    stages = dict(zip(STAGES, processes))
    done = recycle(
        tansu, settings.kafka_bootstrap, settings.kafka_partitions, stages, lambda stage: restart_stage(settings, stage)
    )
    processes[: len(STAGES)] = [stages[stage] for stage in STAGES]
    return done


def wait_ready(settings: Settings, processes: list[subprocess.Popen], console: Console) -> None:
    run_dir, logs = settings.data_dir / "run", settings.data_dir / "logs"
    deadline = time.monotonic() + READY_TIMEOUT_S
    with console.status("starting the bridge, stream worker and alert worker…"):
        while time.monotonic() < deadline:
            waiting = [stage for stage in STAGES if not (run_dir / f"{stage}.ready").exists()]
            if not waiting:
                return
            for stage, process in zip(STAGES, processes):
                if process.poll() is not None:
                    tail = (logs / f"{stage}.log").read_text(errors="replace")[-1500:]
                    raise ServerStartError(f"the {stage} stage exited (code {process.returncode}):\n{tail}")
            time.sleep(0.2)
    raise ServerStartError(f"not ready after {READY_TIMEOUT_S} s: {', '.join(waiting)} (logs: {logs})")


def stop_all(started: list[servers.Server], processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    for server in reversed(started):
        server.stop()


class TeamView:
    """The latest retained status and last alert of every runner, from MQTT."""

    def __init__(self, settings: Settings):
        from footpod.mqtt import mqtt_client

        self.status: dict[str, dict] = {}
        self.last_alert: dict[str, dict] = {}
        self.alerts = 0
        self.lock = threading.Lock()
        self.client = mqtt_client(settings, f"footpod-view-{os.getpid()}")
        self.client.on_connect = lambda client, *args: client.subscribe([("status/+", 1), ("alerts/#", 1)])
        self.client.on_message = self._on_message
        endpoint = settings.mqtt
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        with self.lock:
            if message.topic.startswith("status/"):
                self.status[payload.get("runner", "?")] = payload
            else:
                self.last_alert[payload.get("runner", "?")] = payload
                self.alerts += 1

    def table(self) -> Table:
        table = Table(title="footpod-monitor: the team", caption="Ctrl-C stops everything started here")
        for column in ("runner", "team", "week km", "change %", "ACWR", "budget km", "run", "last alert"):
            table.add_column(column, justify="right" if column.endswith(("km", "%", "ACWR")) else "left")
        with self.lock:
            rows = sorted(self.status.items())
            alerts = dict(self.last_alert)
        for runner, status in rows:
            alert = alerts.get(runner)
            table.add_row(
                runner,
                status.get("team", ""),
                _num(status.get("week_km")),
                _num(status.get("change_pct"), "+.0f"),
                _num(status.get("acwr"), ".2f"),
                _num(status.get("budget_km")),
                "[green]live[/green]" if status.get("live") else "",
                f"[{_colour(alert)}]{alert['rule']}: {alert['action']}[/]" if alert else "",
            )
        return table

    def summary(self) -> str:
        with self.lock:
            return f"{len(self.status)} runners with a status, {self.alerts} alerts"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _num(value, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def _colour(alert: dict) -> str:
    return {"critical": "red", "warning": "yellow"}.get(alert.get("severity"), "cyan")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_stack(settings: Settings, simulate: int, view: bool, console: Console) -> int:
    # a closed terminal or a plain `kill` stops everything as cleanly as Ctrl-C; Ctrl-C itself too
    # when the parent started this with SIGINT ignored (a background job of a script, nohup)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    started = start_servers(settings, console)
    processes: list[subprocess.Popen] = []
    team_view = None
    try:
        processes = start_stages(settings)
        wait_ready(settings, processes, console)
        print(
            f"ready: MQTT {settings.mqtt_url}, Kafka {settings.kafka_url}, InfluxDB {settings.influx_url}"
            f" (logs in {settings.data_dir / 'logs'})",
            flush=True,
        )
        if simulate:
            log = (settings.data_dir / "logs" / "simulator.log").open("ab")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "monitor.cli", "simulate", str(simulate)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        team_view = TeamView(settings)
        _watch(team_view, view, processes, console, lambda: maybe_recycle_kafka(settings, started, processes))
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        if team_view:
            team_view.close()
        stop_all(started, processes)
        console.print("stopped")
    return 0


def _watch(
    team_view: TeamView,
    view: bool,
    processes: list[subprocess.Popen],
    console: Console,
    recycle_kafka: Callable[[], bool] = lambda: False,
) -> None:
    last_recycle_check = time.monotonic()

    def check_stages() -> None:
        nonlocal last_recycle_check
        if time.monotonic() - last_recycle_check >= 60:  # once a minute
            last_recycle_check = time.monotonic()
            if recycle_kafka():
                console.print("the local Kafka was restarted empty (FOOTPOD_KAFKA_RECYCLE_MIB)")
        for stage, process in zip(STAGES, processes):
            if process.poll() is not None:
                raise ServerStartError(f"the {stage} stage stopped (code {process.returncode}); see its log")

    if not view:
        while True:
            time.sleep(10)
            check_stages()
            print(team_view.summary(), flush=True)
    with Live(team_view.table(), console=Console(), refresh_per_second=2) as live:
        while True:
            time.sleep(1)
            check_stages()
            live.update(team_view.table())
