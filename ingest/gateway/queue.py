"""The gateway's outbox: samples on disk (SQLite) until the broker has acknowledged them.

A sample is written, with its pod's sequence counter and odometer, in one transaction before it
is published; it is deleted only once the broker has acknowledged it (QoS 1 PUBACK). A kill -9
therefore loses nothing that was written: what was in flight is published again (a duplicate the
stream counts once). The outbox is bounded: past `max_rows` the oldest samples are dropped,
counted and logged, so a gateway left without a broker for weeks cannot fill its SD card.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.gateway.distance import Odometer

log = logging.getLogger("footpod.gateway.queue")

MAX_ROWS = 1_000_000  # ours: 20 pods for 14 hours at 1 Hz, about 150 MB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    runner TEXT NOT NULL,
    device_id TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pods (
    device_id TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL,
    odometer TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class PodState:
    """What the gateway keeps of a pod across restarts: its next `seq` and its odometer."""

    next_seq: int = 0
    odometer: Odometer = Odometer()


@dataclass(frozen=True)
class Row:
    id: int
    runner: str
    device_id: str
    sample: dict


class Outbox:
    """A bounded FIFO of samples in SQLite (WAL, synchronous FULL); safe to use from two threads."""

    def __init__(self, path: Path, max_rows: int = MAX_ROWS):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows = max_rows
        self.dropped = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a Pi by the track can lose power, not only the process
        self._db.executescript(_SCHEMA)
        self._pending = Counter(dict(self._db.execute("SELECT device_id, count(*) FROM outbox GROUP BY device_id")))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, rows: Sequence[tuple[str, dict]], pods: dict[str, PodState]) -> None:
        """Append (runner, sample) rows and save the pods' states, all or nothing."""
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO outbox (runner, device_id, payload) VALUES (?, ?, ?)",
                [(runner, sample["device_id"], json.dumps(sample, separators=(",", ":"))) for runner, sample in rows],
            )
            self._db.executemany(
                "INSERT INTO pods (device_id, next_seq, odometer) VALUES (?, ?, ?) ON CONFLICT(device_id) "
                "DO UPDATE SET next_seq = excluded.next_seq, odometer = excluded.odometer",
                [(device, state.next_seq, state.odometer.model_dump_json()) for device, state in pods.items()],
            )
            self._pending.update(sample["device_id"] for _, sample in rows)
            self._trim()

    def _trim(self) -> None:
        excess = self.pending - self.max_rows
        if excess <= 0:
            return
        dropped = self._db.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?) RETURNING device_id", (excess,)
        ).fetchall()
        self._pending.subtract(device for (device,) in dropped)
        self.dropped += len(dropped)
        log.warning("outbox full (%d samples): dropped the %d oldest", self.max_rows, len(dropped))

    def after(self, last_id: int, limit: int) -> list[Row]:
        """Up to `limit` rows with an id above `last_id`, oldest first."""
        with self._lock:
            found = self._db.execute(
                "SELECT id, runner, device_id, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)
            ).fetchall()
        return [Row(id_, runner, device, json.loads(payload)) for id_, runner, device, payload in found]

    def remove(self, ids: Iterable[int]) -> None:
        """Forget acknowledged rows (ids already gone are ignored)."""
        ids = list(ids)
        with self._lock, self._transaction():
            gone = (
                self._db.execute(
                    f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(ids))}) RETURNING device_id", ids
                ).fetchall()
                if ids
                else []
            )
            self._pending.subtract(device for (device,) in gone)

    @property
    def pending(self) -> int:
        return self._pending.total()

    def pending_of(self, device_id: str) -> int:
        return self._pending[device_id]

    def pod(self, device_id: str) -> PodState:
        with self._lock:
            found = self._db.execute("SELECT next_seq, odometer FROM pods WHERE device_id = ?", (device_id,)).fetchone()
        if found is None:
            return PodState()
        return PodState(found[0], Odometer.model_validate_json(found[1]))

    def meta(self, key: str) -> str | None:
        with self._lock:
            found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return found[0] if found else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
