"""A paho client stand-in: records publishes; the test decides when the broker connects and acks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Code:
    is_failure: bool = False


@dataclass
class Info:
    mid: int


@dataclass
class FakeMqtt:
    auto_ack: bool = False
    published: list[tuple[int, str, list[dict]]] = field(default_factory=list)
    unacked: list[int] = field(default_factory=list)
    next_mid: int = 1

    def max_inflight_messages_set(self, n: int) -> None:
        self.window = n

    def connect_async(self, host, port, keepalive=60) -> None:
        pass

    def loop_start(self) -> None:
        pass

    def loop_stop(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def publish(self, topic: str, payload: str, qos: int) -> Info:
        mid, self.next_mid = self.next_mid, self.next_mid + 1
        self.published.append((mid, topic, json.loads(payload)))
        self.unacked.append(mid)
        if self.auto_ack:
            self.ack()
        return Info(mid)

    def connect(self) -> None:
        self.on_connect(self, None, {}, Code(), None)

    def drop(self) -> None:
        self.on_disconnect(self, None, {}, Code(True), None)

    def ack(self, count: int | None = None) -> None:
        """The broker acknowledges the oldest `count` unacknowledged messages (all by default)."""
        count = len(self.unacked) if count is None else count
        for mid in self.unacked[:count]:
            self.on_publish(self, None, mid, Code(), None)
        del self.unacked[:count]

    def seqs(self, device: str) -> list[int]:
        return [s["seq"] for _, _, samples in self.published for s in samples if s["device_id"] == device]
