"""The time-series store: InfluxDB 1.x over `/write`, 2.x/3.x over influxdb-client's v2 API.

`/ping` tells the version. Writes are batched by a background task and retried until the
store takes them (influxdb-client alone gives a batch up after 5 tries or 180 s; here nothing
gives up); `Retry-After` is honoured; a batch the store refuses for bad points is split until
the bad points are found, and only those are dead-lettered, each with the store's reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from footpod import metrics
from footpod.settings import Settings

log = logging.getLogger("footpod.timeseries")
BATCH_LINES = 5_000  # InfluxDB takes ~190k points/s in 5,000-line batches (measured)
MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 600.0  # a `Retry-After` longer than this is read as this


class StoreUnavailable(Exception):
    """The store did not take a batch now; try again later (after `retry_after` s if given)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class BadPoints(Exception):
    """The store refused the batch for its content (type conflict, syntax)."""


async def server_version(client: httpx.AsyncClient, url: str) -> str:
    response = await client.get(f"{url.rstrip('/')}/ping")
    return response.headers.get("X-Influxdb-Version", "")


class V1Api:
    """InfluxDB 1.x: line protocol over `/write`, InfluxQL over `/query`."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings):
        self.settings = settings
        self.client, self.url, self.db = client, settings.influx_url.rstrip("/"), settings.influx_bucket

    async def prepare(self) -> None:
        await self.query(f'CREATE DATABASE "{self.db}"')  # autogen keeps data forever

    async def write(self, lines: Sequence[str]) -> None:
        try:
            response = await self.client.post(
                f"{self.url}/write", params={"db": self.db, "precision": "ms"}, content="\n".join(lines).encode()
            )
        except httpx.HTTPError as error:
            raise StoreUnavailable(str(error)) from error
        _raise_for(response.status_code, response.text, response.headers.get("Retry-After"))

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        response = await self.client.post(
            f"{self.url}/query", params={"db": self.db, "epoch": "ms"}, data={"q": influxql}
        )
        response.raise_for_status()
        return _rows(response.json())


class V2Api:
    """InfluxDB 2.x/3.x: influxdb-client's synchronous write API in a thread; InfluxQL via `/query`."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings):
        self.settings = settings
        self.http, self.url = client, settings.influx_url.rstrip("/")
        token = settings.influx_token.get_secret_value()
        self.headers = {"Authorization": f"Token {token}"} if token else {}
        # no retries inside the client (its batching mode gives up after 5 tries / 180 s):
        # the Writer retries, without end
        self.influx = InfluxDBClient(url=settings.influx_url, token=token, org=settings.influx_org, retries=False)
        self.api = self.influx.write_api(write_options=SYNCHRONOUS)

    async def prepare(self) -> None:
        pass  # buckets and their retention are created by the operator (docker-compose init)

    async def write(self, lines: Sequence[str]) -> None:
        try:
            await asyncio.to_thread(
                self.api.write,
                bucket=self.settings.influx_bucket,
                org=self.settings.influx_org,
                record="\n".join(lines),
                write_precision="ms",
            )
        except ApiException as error:
            retry_after = (error.headers or {}).get("Retry-After")
            _raise_for(error.status, str(error.body), retry_after)
        except Exception as error:  # urllib3 connection errors and timeouts
            raise StoreUnavailable(str(error)) from error

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        response = await self.http.post(
            f"{self.url}/query",
            headers=self.headers,
            params={"db": self.settings.influx_bucket, "epoch": "ms"},
            data={"q": influxql},
        )
        response.raise_for_status()
        return _rows(response.json())


def _raise_for(status: int, body: str, retry_after: str | None) -> None:
    if 200 <= status < 300:
        return
    if status in (400, 422):
        raise BadPoints(body[:500])
    raise StoreUnavailable(f"HTTP {status}: {body[:200]}", _seconds(retry_after))


def _seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for result in document.get("results", []):
        if "error" in result:
            raise RuntimeError(result["error"])
        for series in result.get("series", []):
            tags = series.get("tags", {})
            for values in series.get("values", []):
                rows.append({**tags, **dict(zip(series["columns"], values))})
    return rows


async def open_api(settings: Settings, client: httpx.AsyncClient) -> V1Api | V2Api:
    """The API the server speaks: FOOTPOD_INFLUX_API, or `/ping`'s version (1.x -> v1)."""
    choice = settings.influx_api
    if choice == "auto":
        version = await server_version(client, settings.influx_url)
        choice = "v1" if version.lstrip("v").startswith("1.") else "v2"
    api = V1Api(client, settings) if choice == "v1" else V2Api(client, settings)
    await api.prepare()
    return api


class DeadPointFile:
    """Dead letters of the store: one JSON line per refused point (line, reason, time)."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, line: str, reason: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"line": line, "reason": reason, "received_ms": int(time.time() * 1000)}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def dead_point_file(settings: Settings) -> DeadPointFile:
    return DeadPointFile(settings.data_dir / "deadletter" / "store.jsonl")


class Writer:
    """Batches line protocol and writes it in the background; `write` returns a future that is
    done once the store has the lines (or they were refused as bad points and dead-lettered).

    `dead_letter(line, reason)` receives each point the store refuses; by default it is appended
    to `{FOOTPOD_DATA_DIR}/deadletter/store.jsonl`."""

    def __init__(
        self,
        api: V1Api | V2Api,
        batch_lines: int = BATCH_LINES,
        dead_letter: Callable[[str, str], None] | None = None,
        stage: str = "",
    ):
        self.api = api
        self.batch_lines = batch_lines
        self.dead_letter = dead_letter or dead_point_file(api.settings)
        self.pending: list[tuple[list[str], asyncio.Future[None]]] = []
        self.rejected_points = 0
        self.written_points = 0
        self.unavailable: str | None = None  # why the last write did not go through, until one does
        self._wakeup = asyncio.Event()
        self._written = metrics.STORE_POINTS_WRITTEN.labels(stage)
        self._refused = metrics.STORE_POINTS_REFUSED.labels(stage)
        self._errors = metrics.STORE_WRITE_ERRORS.labels(stage)
        self._backlog = metrics.STORE_BACKLOG.labels(stage)

    def write(self, lines: list[str]) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not lines:
            future.set_result(None)
            return future
        self.pending.append((lines, future))
        self._backlog.inc(len(lines))
        self._wakeup.set()
        return future

    @property
    def backlog(self) -> int:
        return sum(len(lines) for lines, _ in self.pending)

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self.pending:
                taken, lines = self._take()
                await self._store(lines)
                for future in taken:
                    if not future.done():
                        future.set_result(None)

    def _take(self) -> tuple[list[asyncio.Future[None]], list[str]]:
        futures, lines = [], []
        while self.pending and (not lines or len(lines) + len(self.pending[0][0]) <= self.batch_lines):
            batch, future = self.pending.pop(0)
            lines.extend(batch)
            futures.append(future)
        return futures, lines

    async def _store(self, lines: list[str]) -> None:
        for start in range(0, len(lines), self.batch_lines):
            await self._store_until_taken(lines[start : start + self.batch_lines])

    async def _store_until_taken(self, lines: list[str]) -> None:
        delay = 0.5
        while True:
            try:
                await self.api.write(lines)
                self.written_points += len(lines)
                self._written.inc(len(lines))
                self._backlog.dec(len(lines))
                self.unavailable = None
                return
            except BadPoints as error:
                await self._isolate_bad(lines, str(error))
                return
            except StoreUnavailable as error:
                self.unavailable = str(error)[:200]
                self._errors.inc()
                wait = error.retry_after if error.retry_after is not None else delay
                log.warning(
                    "time-series store unavailable (%s); %d lines held, retrying in %.1f s", error, len(lines), wait
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, MAX_BACKOFF_S)

    async def _isolate_bad(self, lines: list[str], reason: str) -> None:
        if len(lines) == 1:
            self.rejected_points += 1
            self._refused.inc()
            self._backlog.dec()
            log.error("time-series store refused a point, dead-lettered (%s): %s", reason, lines[0][:300])
            try:
                self.dead_letter(lines[0], reason)
            except Exception:  # a full disk must not stop the writes of good points
                log.exception("could not dead-letter a refused point")
            return
        middle = len(lines) // 2
        for half in (lines[:middle], lines[middle:]):
            await self._store_until_taken(half)


def query_now(settings: Settings, influxql: str, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """Rows of an InfluxQL query, for a command that asks once; raises StoreReadError when the store
    does not answer (InfluxQL on 1.x, and on 2.x/3.x through the v1-compatible `/query`)."""
    return query_once(
        settings.influx_url, settings.influx_bucket, influxql, settings.influx_token.get_secret_value(), timeout_s
    )


def query_once(url: str, database: str, influxql: str, token: str = "", timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """`query_now` for a store named by its URL and database rather than by the settings."""
    from footpod.errors import StoreReadError

    headers = {"Authorization": f"Token {token}"} if token else {}
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/query",
            headers=headers,
            timeout=timeout_s,
            params={"db": database, "epoch": "ms"},
            data={"q": influxql},
        )
        response.raise_for_status()
        return _rows(response.json())
    except (httpx.HTTPError, RuntimeError, ValueError) as error:
        raise StoreReadError(f"the time-series store at {url} did not answer: {error}") from error


def delete_runner_now(settings: Settings, runner: str, timeout_s: float = 30.0) -> str:
    """Delete every point of `runner` in every measurement, for a command; returns how (the API).
    InfluxDB 1.x: `DROP SERIES WHERE runner = ...`; 2.x: the delete API over all time (3.x has
    neither: StoreWriteError says so)."""
    from footpod import schema
    from footpod.errors import StoreWriteError

    url = settings.influx_url.rstrip("/")
    token = settings.influx_token.get_secret_value()
    headers = {"Authorization": f"Token {token}"} if token else {}
    try:
        choice = settings.influx_api
        if choice == "auto":
            version = httpx.get(f"{url}/ping", timeout=timeout_s).headers.get("X-Influxdb-Version", "")
            choice = "v1" if version.lstrip("v").startswith("1.") else "v2"
        if choice == "v1":
            response = httpx.post(
                f"{url}/query",
                headers=headers,
                timeout=timeout_s,
                params={"db": settings.influx_bucket},
                data={"q": schema.runner_drop_query(runner)},
            )
            response.raise_for_status()
            _rows(response.json())  # an InfluxQL error arrives as 200 with "error"
            return "DROP SERIES (InfluxDB 1.x)"
        response = httpx.post(
            f"{url}/api/v2/delete",
            headers=headers,
            timeout=timeout_s,
            params={"org": settings.influx_org, "bucket": settings.influx_bucket},
            json={
                "start": "1970-01-01T00:00:00Z",
                "stop": "2262-04-11T00:00:00Z",
                "predicate": schema.runner_delete_predicate(runner),
            },
        )
        response.raise_for_status()
        return "the delete API (InfluxDB 2.x)"
    except (httpx.HTTPError, RuntimeError, ValueError) as error:
        raise StoreWriteError(
            f"the time-series store at {settings.influx_url} did not delete {runner}'s points: {error}"
        ) from error
