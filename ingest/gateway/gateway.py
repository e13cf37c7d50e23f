"""The gateway: BLE pods in, 1 Hz samples on `footpod/{runner}/samples` out, nothing lost on the way.

Three loops share one asyncio thread: a link per pod (connect, subscribe, reconnect when it drops),
a 1 Hz sampler (the latest measurement of each pod becomes a sample, written to the outbox with the
pod's odometer and sequence counter in one transaction), and a publisher (outbox rows, oldest first,
QoS 1; a row leaves the outbox when the broker acknowledges it). With the broker out of reach the
samples wait on disk; when it is back they go out in event order.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from rich.console import Console
from rich.live import Live
from rich.table import Table

from footpod.roster import load_roster
from footpod.settings import Settings
from ingest.gateway.ble import Radio
from ingest.gateway.clock import Clock, ScaledClock, WallClock
from ingest.gateway.queue import MAX_ROWS, Outbox, PodState
from ingest.gateway.rsc import RscError, RscMeasurement, decode
from ingest.gateway.samples import PodConfig, build_sample, pods_from_roster

log = logging.getLogger("footpod.gateway")

SAMPLE_EVERY_MS = 1000  # CONTRACT.md: 1 Hz samples
STALE_MS = 3000  # ours: a measurement older than this makes no sample (the pod went quiet)
RECONNECT_S = (1.0, 30.0)  # ours: first and longest pause between connection attempts to a pod
SCAN_EVERY_S, SCAN_FOR_S = 30.0, 5.0  # ours: how often and how long to look for advertising pods
WINDOW = 20  # MQTT messages in flight
BATCH_MAX = 500  # samples per MQTT message (a backlog goes out as arrays, as a phone syncs)
STATUS_EVERY_S = 60.0  # status lines in a log (no terminal)
SIM_BACKDATE_MS = 6 * 3_600_000  # a sped-up simulation starts this far in the past
SIM_CLOCK_KEY = "sim_clock"


@dataclass
class PodView:
    """What the status line shows of a pod, and the latest measurement the sampler uses."""

    config: PodConfig
    state: PodState
    connected: bool = False
    rssi: int | None = None
    latest: RscMeasurement | None = None
    latest_ms: int = 0
    last_ts: int = 0
    spm: float | None = None
    rejected: int = 0
    warned: set[str] = field(default_factory=set)


class Publisher:
    """Outbox to broker: QoS 1, at most `window` messages in flight, a row deleted on its PUBACK.

    paho's callbacks only note what happened; rows are published and deleted in the caller's
    thread (`pump`). After a reconnect paho first sends again what was in flight; new rows wait
    until those are acknowledged, so the broker sees each pod's samples in event order.
    """

    def __init__(self, outbox: Outbox, client: mqtt.Client, window: int = WINDOW, batch_max: int = BATCH_MAX):
        self.outbox, self.client, self.window, self.batch_max = outbox, client, window, batch_max
        self.connected = False
        self.published = 0
        self._acked: deque[int] = deque()
        self._inflight: dict[int, list[int]] = {}
        self._sent: set[int] = set()
        self._draining = False
        self._cursor = 0  # every row up to this id is in flight or acknowledged
        client.max_inflight_messages_set(window)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish

    def start(self, host: str, port: int) -> None:
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self.connected = True
        log.info("connected to the broker")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._draining = True
        self.connected = False
        log.warning("broker out of reach (%s); samples are kept on disk", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused a message: %s", reason_code)
        self._acked.append(mid)

    def settle(self) -> None:
        """Delete the rows of acknowledged messages."""
        ids: list[int] = []
        while self._acked:
            ids.extend(self._inflight.pop(self._acked.popleft(), ()))
        if ids:
            self.outbox.remove(ids)
            self._sent.difference_update(ids)
            self.published += len(ids)

    def pump(self) -> int:
        """Settle acknowledgements, then publish what the window allows; the number of messages sent."""
        self.settle()
        if not self.connected:
            return 0
        if self._draining:
            if self._inflight:
                return 0
            self._draining = False
        room = self.window - len(self._inflight)
        if room <= 0:
            return 0
        fetched = self.outbox.after(self._cursor, room * self.batch_max + len(self._sent))
        groups: dict[str, list] = {}
        for row in fetched:
            if row.id not in self._sent:
                groups.setdefault(row.runner, []).append(row)
        sent = 0
        for runner, group in groups.items():
            for start in range(0, len(group), self.batch_max):
                if sent == room:
                    break
                chunk = group[start : start + self.batch_max]
                payload = json.dumps([row.sample for row in chunk], separators=(",", ":"))
                info = self.client.publish(f"footpod/{runner}/samples", payload, qos=1)
                ids = [row.id for row in chunk]
                self._inflight[info.mid] = ids
                self._sent.update(ids)
                sent += 1
        for row in fetched:
            if row.id not in self._sent:
                break
            self._cursor = row.id
        return sent


class Gateway:
    """Pods through `radio`, samples into `outbox`, published by `publisher` (see the module doc)."""

    def __init__(
        self,
        radio: Radio,
        outbox: Outbox,
        publisher: Publisher,
        pods: dict[str, PodConfig],
        clock: Clock,
        *,
        glitch_mps: float = 12.0,
        console: Console | None = None,
        view: bool = False,
    ):
        self.radio, self.outbox, self.publisher, self.clock = radio, outbox, publisher, clock
        self.glitch_mps = glitch_mps
        self.console = console or Console(stderr=True)
        self.view = view
        self.pods = {address: PodView(config, outbox.pod(address)) for address, config in pods.items()}
        self.unknown: set[str] = set()
        self.samples = 0
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, ready: Callable[[], None] | None = None, drain_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._keep_linked(pod)) for pod in self.pods.values()]
        tasks += [
            loop.create_task(self._sample()),
            loop.create_task(self._publish()),
            loop.create_task(self._scan()),
            loop.create_task(self._status()),
        ]
        log.info("gateway reading %d pods; %d samples queued from before", len(self.pods), self.outbox.pending)
        if ready:
            ready()
        cancelled = False
        try:
            await self._stopping.wait()
        except asyncio.CancelledError:
            cancelled = True
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._drain(drain_s)
        if cancelled:
            raise asyncio.CancelledError

    async def _drain(self, timeout_s: float) -> None:
        """On a clean stop, give the broker a little time to take what is queued (the rest stays on disk)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.outbox.pending and asyncio.get_running_loop().time() < deadline:
            self.publisher.pump()
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ pods

    async def _keep_linked(self, pod: PodView) -> None:
        pause = RECONNECT_S[0]
        address = pod.config.address
        while True:
            lost = asyncio.Event()
            loop = asyncio.get_running_loop()
            link = self.radio.link(address, functools.partial(loop.call_soon_threadsafe, lost.set))
            try:
                await link.connect()
                await link.subscribe(lambda data: self.on_value(address, data))
                pod.connected, pause = True, RECONNECT_S[0]
                log.info("pod %s (%s) connected", address, pod.config.runner)
                await lost.wait()
                log.warning("pod %s (%s) dropped out; reconnecting", address, pod.config.runner)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # bleak raises BleakError, TimeoutError, OSError, D-Bus errors
                log.info(
                    "pod %s: cannot connect (%s); next try in %.0f s", address, error or type(error).__name__, pause
                )
            finally:
                pod.connected = False
                try:
                    await link.disconnect()
                except Exception as error:  # noqa: BLE001 - already gone
                    log.debug("pod %s: disconnect: %s", address, error)
            await self.clock.sleep(pause)
            pause = min(pause * 2, RECONNECT_S[1])

    def on_value(self, address: str, data: bytes) -> None:
        """One notification: decoded and kept as the pod's latest, or counted and logged once per reason."""
        pod = self.pods[address]
        try:
            measurement = decode(data)
        except RscError as error:
            pod.rejected += 1
            self._warn_once(pod, str(error))
            return
        pod.latest, pod.latest_ms = measurement, self.clock.now_ms()

    def _warn_once(self, pod: PodView, message: str, key: str | None = None) -> None:
        """Log a pod's problem once per gateway run (per `key`, else per message)."""
        if (key or message) not in pod.warned:
            pod.warned.add(key or message)
            log.warning("pod %s (%s): %s", pod.config.address, pod.config.runner, message)

    async def _scan(self) -> None:
        """Signal strength of our pods; pods advertising RSC that no runner wears are named once."""
        while True:
            try:
                adverts = await self.radio.scan(SCAN_FOR_S)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the adapter may be busy connecting
                log.debug("scan failed: %s", error)
                adverts = []
            for advert in adverts:
                if advert.address in self.pods:
                    self.pods[advert.address].rssi = advert.rssi
                elif advert.address not in self.unknown:
                    self.unknown.add(advert.address)
                    log.warning(
                        "pod %s (%s) advertises Running Speed and Cadence but is in no runner's "
                        "`devices` in the roster: not read",
                        advert.address,
                        advert.name or "no name",
                    )
            await self.clock.sleep(SCAN_EVERY_S)

    # ------------------------------------------------------------------ samples

    async def _sample(self) -> None:
        next_ts = math.ceil(self.clock.now_ms() / SAMPLE_EVERY_MS) * SAMPLE_EVERY_MS
        while True:
            await self.clock.sleep((next_ts - self.clock.now_ms()) / 1000)
            self.tick(next_ts)
            now = self.clock.now_ms()
            next_ts += SAMPLE_EVERY_MS
            if now - next_ts > 5 * SAMPLE_EVERY_MS:  # the machine slept: no made-up samples for the gap
                next_ts = math.ceil(now / SAMPLE_EVERY_MS) * SAMPLE_EVERY_MS

    def tick(self, ts: int) -> int:
        """One sample per pod with a fresh measurement, written to the outbox in one transaction."""
        rows, states, built_for = [], {}, []
        for address, pod in self.pods.items():
            if pod.latest is None or ts - pod.latest_ms > STALE_MS or ts <= pod.last_ts:
                continue
            built = build_sample(pod.config, pod.latest, ts, pod.state, self.glitch_mps, pod.latest_ms)
            rows.append((pod.config.runner, built.sample))
            states[address] = built.state
            built_for.append((pod, built))
        if not rows:
            return 0
        self.outbox.put(rows, states)
        for pod, built in built_for:
            pod.state, pod.last_ts, pod.spm = built.state, ts, built.sample["cadence_spm"]
            if built.warning:
                self._warn_once(pod, built.warning, key="cadence unit")
            if built.event in ("reset", "jump"):
                log.info(
                    "pod %s: total distance %s; counted from the new value on",
                    pod.config.address,
                    "fell (pod reset)" if built.event == "reset" else "jumped (rewritten)",
                )
        self.samples += len(rows)
        self._wake.set()
        return len(rows)

    async def _publish(self) -> None:
        while True:
            self.publisher.pump()
            self._wake.clear()
            try:  # not wait_for: on Python 3.11 it can swallow a cancellation that meets a wake-up
                async with asyncio.timeout(0.05):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ status

    def status_table(self) -> Table:
        broker = "[green]connected[/green]" if self.publisher.connected else "[red]out of reach[/red]"
        table = Table(
            title=f"gateway: broker {broker}, {self.outbox.pending} queued, {self.samples} samples, "
            f"{self.outbox.dropped} dropped",
            title_justify="left",
        )
        table.add_column("pod", no_wrap=True, min_width=17)  # a BLE address in full
        table.add_column("runner", no_wrap=True)
        for column in ("signal", "cadence", "speed", "distance", "queued"):
            table.add_column(column, justify="right")
        for address, pod in self.pods.items():
            signal_text = (
                "[red]not connected[/red]"
                if not pod.connected
                else (f"{pod.rssi} dBm" if pod.rssi is not None else "connected")
            )
            latest = pod.latest
            table.add_row(
                address,
                pod.config.runner,
                signal_text,
                f"{pod.spm:.0f} spm" if pod.spm is not None else "-",
                f"{latest.speed_mps:.2f} m/s" if latest else "-",
                f"{pod.state.odometer.distance_m / 1000:.2f} km",
                str(self.outbox.pending_of(address)),
            )
        return table

    def status_lines(self) -> list[str]:
        lines = [
            f"gateway: broker {'connected' if self.publisher.connected else 'out of reach'}, "
            f"{self.outbox.pending} queued, {self.samples} samples, {self.outbox.dropped} dropped"
        ]
        for address, pod in self.pods.items():
            lines.append(
                f"pod {address} runner {pod.config.runner} "
                f"signal {pod.rssi if pod.connected else 'not connected'} "
                f"cadence {pod.spm if pod.spm is not None else '-'} "
                f"speed {pod.latest.speed_mps if pod.latest else '-'} "
                f"queued {self.outbox.pending_of(address)}"
            )
        return lines

    async def _status(self) -> None:
        if self.view:
            with Live(self.status_table(), console=self.console, refresh_per_second=2) as live:
                while True:
                    await asyncio.sleep(1.0)
                    live.update(self.status_table())
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            for line in self.status_lines():
                self.console.print(line, soft_wrap=True, markup=False, highlight=False)


def sim_clock(outbox: Outbox, speedup: float, wall_ms: int) -> Clock:
    """The simulation's clock, kept in the outbox so that a restarted gateway goes on from where it was."""
    kept = outbox.meta(SIM_CLOCK_KEY)
    if kept:
        origin_wall, origin_sim, kept_speedup = json.loads(kept)
        if kept_speedup == speedup:
            return ScaledClock(origin_wall, origin_sim, speedup)
    origin_sim = wall_ms - (SIM_BACKDATE_MS if speedup > 1 else 0)
    outbox.set_meta(SIM_CLOCK_KEY, json.dumps([wall_ms, origin_sim, speedup]))
    return ScaledClock(wall_ms, origin_sim, speedup)


async def run_gateway(
    settings: Settings,
    *,
    simulate: int = 0,
    speedup: float = 1.0,
    outbox_path: Path | None = None,
    max_queued: int = MAX_ROWS,
    client_id: str | None = None,
    view: bool = False,
    console: Console | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """`footpod-monitor gateway`: the roster's pods (or `simulate` fake ones) until cancelled."""
    from footpod.mqtt import mqtt_client

    outbox = Outbox(outbox_path or settings.data_dir / "gateway" / "outbox.db", max_rows=max_queued)
    pods = pods_from_roster(load_roster(settings.roster))
    if simulate:
        from ingest.gateway.fake import FakeRadio, simulated_pods

        clock = sim_clock(outbox, speedup, WallClock().now_ms())
        fakes = simulated_pods(simulate, epoch_ms=json.loads(outbox.meta(SIM_CLOCK_KEY))[1])
        for i, fake in enumerate(fakes):
            pods.setdefault(fake.address, PodConfig(fake.address, f"sim{i:02d}", fake.counts))
        pods = {address: pods[address] for address in (fake.address for fake in fakes)}
        radio: Radio = FakeRadio(fakes, clock)
    else:
        from ingest.gateway.ble import BleakRadio

        clock, radio = WallClock(), BleakRadio()
        if not pods:
            log.warning("no BLE address in the roster's `devices` (FOOTPOD_ROSTER): no pod to read")
    client = mqtt_client(settings, client_id or f"footpod-gateway-{socket.gethostname()}")
    publisher = Publisher(outbox, client)
    endpoint = settings.mqtt
    publisher.start(endpoint.host, endpoint.port)
    gateway = Gateway(radio, outbox, publisher, pods, clock, glitch_mps=settings.glitch_mps, console=console, view=view)
    try:
        await gateway.run(ready=ready)
    finally:
        publisher.stop()
        outbox.close()
