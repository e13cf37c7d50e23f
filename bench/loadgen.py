"""The live bench's load generator: MQTT 3.1.1 QoS 1 publishes over plain sockets.

    .venv/bin/python bench/loadgen.py --rate 2000 --seconds 10     # paho and this publisher, side by side

Why not paho here. The live bench publishes one sample a second for each of up to 5,000 runners on
a 2-core machine, and its own CPU competes with the pipeline it measures. paho costs 175-195 µs of
CPU per QoS 1 publish with its network thread (`loop_start`; the live bench at 1,000 runners), and
about as much without it (`loop_write`/`loop_read` in the publishing thread; this file at 2,000
publishes/s: 162 µs with the thread, 155 µs without, 24 µs here, on a busy machine): `publish`
builds a `MQTTMessage` and a `MQTTMessageInfo`, takes its locks, queues the packet and writes it
with a system call of its own, and each PUBACK is read and dispatched apart. At 5,000 runners that
is most of a core. The broker sees the same bytes from this publisher: CONNECT, PUBLISH with QoS 1
and a packet id, DISCONNECT; CONNACK and PUBACKs are read back and counted. What paho does besides
(reconnect, resend after a reconnect, TLS, QoS 2, MQTT 5 properties) the bench does not need: a
lost connection fails the run instead.

What is left is mostly per tick, not per message: a wake-up and one `sendall` per connection every
10 ms cost tens of µs each on this machine, so the cost per message falls as runners grow (about
25 µs at 1,000 runners, 14 µs at 2,000, 7-9 µs at 5,000; the marginal message is a few µs: its
JSON and its packet).

- `connect_packet`, `publish_packet`, `read_packets`: the packet encodings, pure (byte for byte
  against paho's encoder in tests/unit/bench, and through Mosquitto in tests/integration).
- `Connection`: one TCP connection; the packets of a tick go out in one `sendall`; PUBACKs are read
  without blocking, so every publish is matched to its acknowledgement by packet id (at most 65,535
  in flight: an id still in flight is skipped, and with every id in flight a publish waits for an
  ack).
- `LiveLoad`: runners at 1 Hz spread over each second in ticks, one thread for all connections; it
  counts its own thread's CPU time, so the bench reports the load generator's µs per message.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CONNECT, CONNACK, PUBLISH, PUBACK, PINGRESP, DISCONNECT = 0x10, 0x20, 0x30, 0x40, 0xD0, 0xE0
QOS1 = 0x02  # a PUBLISH's fixed-header flags: QoS 1, not a duplicate, not retained
MAX_PACKET_ID = 65_535
ACK_READ_S = 0.1  # `LiveLoad` reads PUBACKs this often, not at every tick
_U16 = struct.Struct(">H")


class BrokerRefused(ConnectionError):
    """The broker answered CONNECT with a return code other than 0, or with something else."""


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer (1-4 bytes, 7 bits each, low first)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return _U16.pack(len(text)) + text


def connect_packet(client_id: str, keepalive_s: int = 60) -> bytes:
    """CONNECT, MQTT 3.1.1, a clean session, no will, no credentials."""
    body = _string(b"MQTT") + bytes([4, 0x02]) + _U16.pack(keepalive_s) + _string(client_id.encode())
    return bytes([CONNECT]) + remaining_length(len(body)) + body


def topic_prefix(topic: str) -> bytes:
    """A topic as a PUBLISH carries it (length first): worked out once per runner."""
    return _string(topic.encode())


def publish_packet(prefix: bytes, payload: bytes, packet_id: int) -> bytes:
    """PUBLISH, QoS 1: `prefix` from `topic_prefix`, then the packet id, then the payload."""
    length = len(prefix) + 2 + len(payload)
    return (
        (b"\x32" + remaining_length(length) if length > 127 else bytes((0x32, length)))
        + prefix
        + _U16.pack(packet_id)
        + payload
    )


DISCONNECT_PACKET = bytes([DISCONNECT, 0])


def read_packets(buffer: bytearray) -> list[tuple[int, bytes]]:
    """The whole packets at the start of `buffer` as (first byte, body), removed from it; a packet
    only partly received stays for the next read."""
    packets, at, size = [], 0, len(buffer)
    while at + 2 <= size:
        length, multiplier, index = 0, 1, at + 1
        while True:
            if index >= size:
                del buffer[:at]
                return packets
            digit = buffer[index]
            length += (digit & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if not digit & 0x80:
                break
        if index + length > size:
            break
        packets.append((buffer[at], bytes(buffer[index : index + length])))
        at = index + length
    del buffer[:at]
    return packets


class Connection:
    """One MQTT connection publishing QoS 1: packets go out in batches, PUBACKs are matched by id."""

    def __init__(self, host: str, port: int, client_id: str, keepalive_s: int = 60, timeout_s: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(client_id, keepalive_s))
        self.buffer = bytearray()
        self.inflight: set[int] = set()
        self.next_id = 1
        self.published = self.acknowledged = self.unexpected = 0
        deadline = time.monotonic() + timeout_s
        while not (packets := read_packets(self.buffer)):
            if time.monotonic() > deadline:
                raise BrokerRefused("no CONNACK")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BrokerRefused("the broker closed the connection before CONNACK")
            self.buffer += chunk
        (kind, body), *rest = packets
        if kind != CONNACK or len(body) != 2 or body[1] != 0:
            raise BrokerRefused(f"CONNACK expected, got packet {kind:#x} {body!r}")
        self._take(rest)
        self.sock.settimeout(None)

    def packet(self, prefix: bytes, payload: bytes) -> bytes:
        """The PUBLISH of one message with the next free packet id, counted as in flight."""
        inflight = self.inflight
        if len(inflight) >= MAX_PACKET_ID and self.drain(until=MAX_PACKET_ID - 1) >= MAX_PACKET_ID:
            raise ConnectionError(f"{MAX_PACKET_ID:,} publishes unacknowledged: the broker does not answer")
        packet_id = self.next_id
        while packet_id in inflight:  # still unacknowledged from 65,535 publishes ago
            packet_id = packet_id % MAX_PACKET_ID + 1
        self.next_id = packet_id % MAX_PACKET_ID + 1
        inflight.add(packet_id)
        self.published += 1
        return publish_packet(prefix, payload, packet_id)

    def send(self, packets: Sequence[bytes], read_acks: bool = True) -> None:
        """The packets in one write, then whatever acknowledgements have come (without waiting)."""
        self.sock.sendall(b"".join(packets))
        if read_acks:
            self.read_acks()

    def read_acks(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(65_536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            self.buffer += chunk
            if len(chunk) < 65_536:
                break
        if self.buffer:
            self._take(read_packets(self.buffer))

    def _take(self, packets: list[tuple[int, bytes]]) -> None:
        inflight = self.inflight
        for kind, body in packets:
            if kind == PUBACK and len(body) == 2 and (packet_id := _U16.unpack(body)[0]) in inflight:
                inflight.discard(packet_id)
                self.acknowledged += 1
            else:
                self.unexpected += 1

    def drain(self, timeout_s: float = 10.0, until: int = 0) -> int:
        """Wait (at most `timeout_s`) until at most `until` publishes are unacknowledged; how many are."""
        deadline = time.monotonic() + timeout_s
        while len(self.inflight) > until and (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65_536)
            except TimeoutError:
                break
            finally:
                self.sock.settimeout(None)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            self.buffer += chunk
            self._take(read_packets(self.buffer))
        return len(self.inflight)

    @property
    def unacknowledged(self) -> int:
        return len(self.inflight)

    def close(self) -> None:
        try:
            self.sock.sendall(DISCONNECT_PACKET)
        except OSError:
            pass
        self.sock.close()


class LiveLoad:
    """`runners` runners at 1 Hz, runner `r` on topic `topic.format(runner=names[r])` and on connection
    `r % len(connections)`; each second's samples spread over the second in ticks of `tick_s` (a
    sample due within the tick goes now, so the generator wakes at most 1/tick_s times a second).
    `body(r, ts_ms)` is the sample's payload, stamped with the moment its tick is sent."""

    def __init__(
        self,
        connections: Sequence[Connection],
        names: Sequence[str],
        body: Callable[[int, int], bytes],
        tick_s: float,
        topic: str = "footpod/{runner}/samples",
    ):
        self.connections = list(connections)
        self.names = list(names)
        self.body = body
        self.tick_s = tick_s
        self.prefixes = [topic_prefix(topic.format(runner=name)) for name in self.names]
        self.cpu_s = 0.0  # the generating thread's CPU time
        self.error: BaseException | None = None

    @property
    def published(self) -> int:
        return sum(c.published for c in self.connections)

    @property
    def acknowledged(self) -> int:
        return sum(c.acknowledged for c in self.connections)

    def run(self, stop: threading.Event, start: float) -> None:
        """Publish from wall-clock `start` until `stop` is set (call in a thread of its own)."""
        began = time.thread_time()
        try:
            self._run(stop, start)
        except BaseException as error:  # reported by the bench, not lost in the thread
            self.error = error
        finally:
            self.cpu_s += time.thread_time() - began

    def _run(self, stop: threading.Event, start: float) -> None:
        runners, tick_s, body, prefixes = len(self.names), self.tick_s, self.body, self.prefixes
        connections = self.connections
        count = len(connections)
        batches: list[list[bytes]] = [[] for _ in connections]
        second, r, acks_due = 0, 0, 0.0
        while not stop.is_set():
            now = time.time()
            delay = start + second + r / runners - now
            if delay > tick_s:
                time.sleep(delay)
                now = time.time()
            ts_ms = int(now * 1000)
            horizon = now + tick_s - start - second  # every runner due before the tick's end goes now
            while r < runners and r / runners <= horizon:
                batches[r % count].append(connections[r % count].packet(prefixes[r], body(r, ts_ms)))
                r += 1
            read_acks = now >= acks_due  # a read finding nothing costs a system call and an exception
            if read_acks:
                acks_due = now + ACK_READ_S
            for connection, batch in zip(connections, batches, strict=True):
                if batch:
                    connection.send(batch, read_acks)
                    batch.clear()
                elif read_acks:
                    connection.read_acks()
            if r == runners:
                r, second = 0, second + 1


# --------------------------------------------------------------------------- paho beside it


def _compare(rate: int, seconds: float, per_connection: int) -> None:
    """CPU µs per QoS 1 message at `rate` messages/s: paho with its network thread, paho driven by
    hand in the publishing thread, and `LiveLoad`; each against a fresh Mosquitto."""
    import tempfile

    import orjson
    import paho.mqtt.client as mqtt

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from monitor import servers

    def payload(r: int, ts_ms: int) -> bytes:
        return orjson.dumps(
            {"ts": ts_ms, "device_id": f"pod-l{r}", "cadence_spm": 172, "distance_m": 3.0, "speed_mps": 3.0}
        )

    names = [f"l{r}" for r in range(rate)]
    parts = max(1, rate // per_connection)

    def paho_load(threaded: bool) -> tuple[float, int]:
        clients = []
        for part in range(parts):
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cmp-{part}-{time.time_ns()}")
            client.max_inflight_messages_set(1000)
            client.max_queued_messages_set(0)
            client.connect("127.0.0.1", port)
            if threaded:
                client.loop_start()
            clients.append(client)
        stop = threading.Event()
        begin = time.process_time()

        def loop(part: int) -> None:
            client, mine = clients[part], range(part, rate, parts)
            start, second = time.time() + 0.1, 0
            while not stop.is_set():
                for r in mine:
                    delay = start + second + r / rate - time.time()
                    if delay > 0.01:
                        if not threaded:
                            client.loop_write()
                            client.loop_read()
                        time.sleep(delay)
                    client.publish(f"footpod/{names[r]}/samples", payload(r, int(time.time() * 1000)), qos=1)
                second += 1

        threads = [threading.Thread(target=loop, args=(p,), daemon=True) for p in range(parts)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        used = time.process_time() - begin
        for client in clients:
            if threaded:
                client.loop_stop()
            client.disconnect()
        return used, int(seconds * rate)

    def raw_load() -> tuple[float, int]:
        connections = [Connection("127.0.0.1", port, f"cmp-raw-{p}-{time.time_ns()}") for p in range(parts)]
        load = LiveLoad(connections, names, payload, 0.01)
        stop = threading.Event()
        begin = time.process_time()
        thread = threading.Thread(target=load.run, args=(stop, time.time() + 0.1), daemon=True)
        thread.start()
        time.sleep(seconds)
        stop.set()
        thread.join()
        used = time.process_time() - begin
        unacked = sum(c.drain(10) for c in connections)
        for c in connections:
            c.close()
        print(f"  raw: {load.published:,} published, {unacked} unacknowledged, thread CPU {load.cpu_s:.2f} s")
        return used, load.published

    for name, run in (
        ("paho, network thread", lambda: paho_load(True)),
        ("paho, loop by hand", lambda: paho_load(False)),
        ("raw sockets", raw_load),
    ):
        with tempfile.TemporaryDirectory() as data:
            server = servers.mosquitto(Path(data), port=servers.free_port()).start()
            port = server.port
            try:
                used, messages = run()
            finally:
                server.stop()
        print(f"{name}: {used / messages * 1e6:.1f} µs CPU per message ({messages:,} messages, {used:.2f} s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU per QoS 1 publish: paho against this load generator.")
    parser.add_argument("--rate", type=int, default=2000, help="messages/s (runners at 1 Hz)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--per-connection", type=int, default=500, help="runners per MQTT connection")
    args = parser.parse_args()
    _compare(args.rate, args.seconds, args.per_connection)


if __name__ == "__main__":
    main()
