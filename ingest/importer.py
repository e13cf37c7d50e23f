"""`footpod-monitor import`: FIT files and folders to MQTT, published as a phone would.

The shell around `ingest.fit`: it finds the files, decodes each whole file first (so a rejected
file publishes nothing), publishes each run's samples on `footpod/{runner}/samples` with QoS 1 in
batches the bridge keeps whole, and reports a file done only when the broker has acknowledged
every batch. `--watch` polls a folder and imports files that appear or change there.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import paho.mqtt.client as mqtt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from footpod.errors import FootpodError
from footpod.settings import Settings
from ingest.fit import DecodedRun, FileResult, decode_fit
from ingest.validate import MAX_SAMPLES_PER_RECORD

# one MQTT message becomes one Kafka record at the bridge (at most MAX_SAMPLES_PER_RECORD samples);
# imported samples carry their run_id, so fewer than that keep the record far from Kafka's 1 MB
BATCH_SAMPLES = min(2_000, MAX_SAMPLES_PER_RECORD)
IN_FLIGHT = 32  # QoS 1 messages awaiting the broker's ack; paho loses them past 65,535
ACK_TIMEOUT_S = 60.0  # how long a batch may wait for its ack, or the broker for a reconnection
DELIVERY_ATTEMPTS = 5  # a file is sent again after a dropped connection, this many times at most
FIT_SUFFIX = ".fit"


class PublishError(FootpodError):
    """The broker did not acknowledge what was published."""

    exit_status = 2  # the import command's documented status for an unreachable broker


class Publisher(Protocol):
    """The narrow seam to the broker."""

    def deliver(self, topic: str, payloads: Sequence[bytes]) -> None:
        """Publish every payload and return once the broker has acknowledged all of them."""


class _Disconnected(Exception):
    pass


class MqttPublisher:
    """QoS 1 through paho, at most `window` messages unacknowledged. A file's messages lost to a
    dropped connection are sent again, all of them, once paho has reconnected: the stream counts
    a sample once however often it arrives (RULES.md §7)."""

    def __init__(
        self,
        settings: Settings,
        client_id: str,
        window: int = IN_FLIGHT,
        timeout_s: float = ACK_TIMEOUT_S,
        attempts: int = DELIVERY_ATTEMPTS,
    ):
        from footpod.mqtt import mqtt_client

        self.window, self.timeout_s, self.attempts = window, timeout_s, attempts
        self.resent = 0  # deliveries started over after a lost connection
        self._connected = threading.Event()
        self._generation = 0  # connections lost so far
        self._connects = 0  # connections accepted so far
        self.client = mqtt_client(settings, client_id)
        self.client.max_inflight_messages_set(window)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        endpoint = settings.mqtt
        self.where = f"{endpoint.host}:{endpoint.port}"
        try:
            self.client.connect(endpoint.host, endpoint.port)
        except OSError as error:
            raise PublishError(f"cannot reach the MQTT broker at {self.where}: {error}") from error
        self.client.loop_start()
        if not self._connected.wait(timeout_s):
            self.close()
            raise PublishError(f"the MQTT broker at {self.where} did not accept the connection")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            self._connects += 1
            self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._generation += 1

    def deliver(self, topic: str, payloads: Sequence[bytes]) -> None:
        """Every payload acknowledged, or PublishError. An attempt ends with its connection: the
        next one starts on the next connection paho makes, so one drop costs one attempt."""
        for _attempt in range(self.attempts):
            self._await_connection(after=-1)
            connection = self._connects
            try:
                self._send(topic, payloads, self._generation)
                return
            except _Disconnected:
                self.resent += 1
                self._await_connection(after=connection)
        raise PublishError(f"the connection to {self.where} dropped {self.attempts} times during one file")

    def _await_connection(self, after: int) -> None:
        """Until paho holds a connection newer than number `after`, at most `timeout_s`."""
        deadline = time.monotonic() + self.timeout_s
        while not (self._connected.is_set() and self._connects > after):
            if time.monotonic() >= deadline:
                raise PublishError(f"the MQTT broker at {self.where} has been unreachable for {self.timeout_s:.0f} s")
            self._connected.wait(0.05)
            if self._connected.is_set() and self._connects <= after:
                time.sleep(0.05)  # the old connection, not yet seen as lost

    def _send(self, topic: str, payloads: Sequence[bytes], generation: int) -> None:
        pending: deque = deque()
        for payload in payloads:
            while len(pending) >= self.window:
                self._wait(pending.popleft(), generation)
            info = self.client.publish(topic, payload, qos=1)
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                raise _Disconnected
            pending.append(info)
        while pending:
            self._wait(pending.popleft(), generation)

    def _wait(self, info, generation: int) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._generation != generation:
                raise _Disconnected
            try:
                info.wait_for_publish(0.5)
            except RuntimeError as error:
                if self._generation != generation or not self._connected.is_set():
                    raise _Disconnected from error
                raise PublishError(f"publishing to {self.where} failed: {error}") from error
            except ValueError as error:  # paho's own queue is full
                raise PublishError(f"publishing to {self.where} failed: {error}") from error
            if info.is_published():
                return
        raise PublishError(f"the MQTT broker at {self.where} did not acknowledge within {self.timeout_s:.0f} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def batches(run: DecodedRun, size: int = BATCH_SAMPLES) -> list[bytes]:
    """A run's samples as JSON arrays of at most `size` samples, in time order."""
    rows = [sample.model_dump(exclude_none=True) for sample in run.samples]
    return [
        json.dumps(rows[start : start + size], separators=(",", ":")).encode() for start in range(0, len(rows), size)
    ]


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Files as named, and every `.fit` file under a named folder (recursively), each once."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == FIT_SUFFIX))
        else:
            found.append(path)
    unique = dict.fromkeys(p.resolve() if p.exists() else p for p in found)
    return list(unique)


def import_file(path: Path, runner: str, publisher: Publisher, max_future_s: float) -> FileResult:
    """Decode the whole file, then publish its runs and wait for every acknowledgement. Samples more
    than `max_future_s` ahead of now (FOOTPOD_MAX_FUTURE_S, the bridge's limit) reject the file."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return FileResult(name=str(path), outcome="rejected", reason=f"cannot read: {error.strerror or error}")
    not_after_ms = int((time.time() + max_future_s) * 1000)
    result = decode_fit(data, str(path), not_after_ms=not_after_ms)
    payloads = [payload for run in result.runs for payload in batches(run)]
    if payloads:
        publisher.deliver(f"footpod/{runner}/samples", payloads)
    return result


@dataclass
class Summary:
    """What an import did, file by file."""

    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> list[FileResult]:
        return [r for r in self.results if r.outcome == "rejected"]

    @property
    def runs(self) -> int:
        return sum(len(r.runs) for r in self.results)

    @property
    def samples(self) -> int:
        return sum(len(run.samples) for r in self.results for run in r.runs)

    @property
    def km(self) -> float:
        return sum(run.distance_m for r in self.results for run in r.runs) / 1000

    def exit_code(self) -> int:
        return 1 if self.rejected else 0


def import_paths(
    paths: Sequence[Path],
    runner: str,
    publisher: Publisher,
    console: Console,
    max_future_s: float,
    progress: bool = True,
) -> Summary:
    """Import every file under `paths` with a progress bar; one file's failure stops no other."""
    files = find_files(paths)
    summary = Summary()
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]import[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
    )
    with Progress(*columns, console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("import", total=len(files), current="")
        for path in files:
            bar.update(task, current=path.name)
            summary.results.append(import_file(path, runner, publisher, max_future_s))
            bar.advance(task)
    summary.seconds = time.perf_counter() - started
    return summary


def summary_table(summary: Summary) -> Table:
    """One row per file and a total: runs, km, samples, and why a file was skipped or rejected."""
    table = Table(title="import", title_justify="left")
    for name, justify in (
        ("file", "left"),
        ("outcome", "left"),
        ("runs", "right"),
        ("km", "right"),
        ("samples", "right"),
        ("skipped / why", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    styles = {"imported": "green", "skipped": "yellow", "rejected": "red"}
    for result in summary.results:
        km = sum(run.distance_m for run in result.runs) / 1000
        samples = sum(len(run.samples) for run in result.runs)
        why = result.reason if result.outcome != "imported" else _left_out(result)
        table.add_row(
            Path(result.name).name,
            f"[{styles[result.outcome]}]{result.outcome}[/]",
            str(len(result.runs)),
            f"{km:.2f}",
            str(samples),
            why or "",
        )
    skipped = sum(1 for r in summary.results if r.outcome == "skipped")
    table.add_section()
    table.add_row(
        f"{len(summary.results)} files",
        f"{len(summary.rejected)} rejected, {skipped} skipped",
        str(summary.runs),
        f"{summary.km:.2f}",
        str(summary.samples),
        "",
    )
    return table


def _left_out(result: FileResult) -> str:
    """The sessions of an imported file that were not imported, in short."""
    sports = [s.sport for s in result.skipped if s.reason.endswith("not running")]
    others = [s.reason for s in result.skipped if not s.reason.endswith("not running")]
    parts = [f"{', '.join(sports)}: not running"] if sports else []
    return "; ".join(parts + others)


def rate_line(summary: Summary) -> str:
    seconds = max(summary.seconds, 1e-9)
    return (
        f"{summary.runs} runs, {summary.samples} samples in {summary.seconds:.1f} s: "
        f"{summary.runs / seconds:.2f} runs/s, {summary.samples / seconds:.0f} samples/s"
    )


def watch_folder(
    folder: Path,
    runner: str,
    publisher: Publisher,
    console: Console,
    max_future_s: float,
    poll_s: float = 5.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Import each `.fit` file that appears or changes under `folder`, once its size has held
    still for one poll (a sync may still be writing it). Runs until `stop()` is true."""
    done: dict[Path, tuple[int, int]] = {}
    sizes: dict[Path, tuple[int, int]] = {}
    while not stop():
        for path in find_files([folder]):
            try:
                stat = path.stat()
            except OSError:
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            if done.get(path) == key:
                continue
            if sizes.get(path) != key:
                sizes[path] = key  # seen for the first time, or still growing: look again next poll
                continue
            try:
                result = import_file(path, runner, publisher, max_future_s)
            except PublishError as error:
                console.print(f"[red]not delivered[/red] {path}: {error}; trying again")
                continue
            done[path] = key
            console.print(_watch_line(result))
        time.sleep(poll_s)


def _watch_line(result: FileResult) -> str:
    if result.outcome == "imported":
        km = sum(run.distance_m for run in result.runs) / 1000
        samples = sum(len(run.samples) for run in result.runs)
        return f"[green]imported[/green] {result.name}: {len(result.runs)} run(s), {km:.2f} km, {samples} samples"
    colour = "yellow" if result.outcome == "skipped" else "red"
    return f"[{colour}]{result.outcome}[/{colour}] {result.name}: {result.reason}"


def run_import(
    settings: Settings,
    paths: Sequence[Path],
    runner: str,
    watch: Path | None,
    poll_s: float,
    console: Console,
    progress: bool = True,
) -> int:
    """The `import` command: the summary table, then the exit code (1 when a file was rejected)."""
    publisher = MqttPublisher(settings, f"footpod-import-{runner}-{os.getpid()}")
    try:
        code = 0
        if paths:
            summary = import_paths(paths, runner, publisher, console, settings.max_future_s, progress=progress)
            Console().print(summary_table(summary))
            console.print(rate_line(summary))
            code = summary.exit_code()
        if watch is not None:
            console.print(f"watching {watch} for new FIT files (Ctrl-C stops)")
            watch_folder(watch, runner, publisher, console, settings.max_future_s, poll_s=poll_s)
        return code
    finally:
        publisher.close()
