"""The store writer under back-pressure and bad points (FAULTS.md rows 6, 7, 8), against real
InfluxDB 1.x (`/write`) and VictoriaMetrics (influxdb-client's `/api/v2/write`)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from footpod.settings import Settings
from footpod.timeseries import V1Api, V2Api, Writer
from monitor import servers
from tests.faults.fault_ledger import Ledger, Result

POINTS = 1_000
# more refusals than influxdb-client's batching mode would take (5 tries), each asking for 1 s
REFUSALS = [(503, "1"), (429, "1"), (503, "1"), (429, "1"), (503, "1"), (429, "1"), (503, "1")]


@pytest.fixture(scope="module")
def influx(tmp_path_factory):
    server = servers.influxdb(tmp_path_factory.mktemp("influx"), port=servers.free_port()).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="module")
def victoria(tmp_path_factory):
    server = servers.victoria_metrics(tmp_path_factory.mktemp("vm"), port=servers.free_port()).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


class RefusingProxy(ThreadingHTTPServer):
    """Answers the first writes with 503/429 and `Retry-After`, then passes writes to the store;
    records when each write attempt came."""

    def __init__(self, upstream: str, refusals: list[tuple[int, str]]):
        self.upstream, self.refusals = upstream.rstrip("/"), list(refusals)
        self.attempts: list[tuple[float, int]] = []  # (monotonic time, status answered)
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: RefusingProxy

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            writing = "write" in self.path
            refusal = self.server.refusals.pop(0) if writing and self.server.refusals else None
            if refusal:
                self.server.attempts.append((time.monotonic(), refusal[0]))
        if refusal:
            self.send_response(refusal[0])
            self.send_header("Retry-After", refusal[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {
            k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-encoding", "authorization")
        }
        answer = httpx.post(f"{self.server.upstream}{self.path}", content=body, headers=headers)
        if writing:
            with self.server.lock:
                self.server.attempts.append((time.monotonic(), answer.status_code))
        self.send_response(answer.status_code)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args):
        pass


async def write(api, lines: list[str], batch_lines: int, dead_letter=None) -> Writer:
    writer = Writer(api, batch_lines=batch_lines, dead_letter=dead_letter)
    task = asyncio.create_task(writer.run())
    await asyncio.wait_for(writer.write(lines), 120)
    task.cancel()
    return writer


async def with_api(api_type, settings: Settings, lines: list[str], batch_lines: int, dead_letter=None) -> Writer:
    async with httpx.AsyncClient() as client:
        api = api_type(client, settings)
        await api.prepare()
        return await write(api, lines, batch_lines, dead_letter)


def honoured(attempts: list[tuple[float, int]]) -> tuple[int, float]:
    """How many retries came sooner than the `Retry-After` (1 s) of the refusal before them, and
    the shortest wait seen."""
    gaps = [later[0] - earlier[0] for earlier, later in zip(attempts, attempts[1:]) if earlier[1] in (429, 503)]
    return sum(1 for gap in gaps if gap < 0.98), min(gaps) if gaps else 0.0


def influx_keys(url: str, measurement: str) -> list[tuple[str, int]]:
    document = httpx.post(
        f"{url}/query",
        params={"db": "footpod", "epoch": "ms"},
        data={"q": f'SELECT "v", "runner" FROM "{measurement}"'},
    ).json()
    series = document["results"][0].get("series", [])
    return [(row[2], row[0]) for s in series for row in s["values"]]


def lines_for(measurement: str, start_ms: int) -> tuple[list[str], list[tuple[str, int]]]:
    keys = [(f"r{i % 50}", start_ms + i) for i in range(POINTS)]
    return [f"{measurement},runner={runner} v={i}.5 {ts}" for i, (runner, ts) in enumerate(keys)], keys


def compare(
    row: str, tmp_path, sent: list[tuple[str, int]], stored: list[tuple[str, int]], **notes
) -> tuple[Ledger, Result]:
    """The numbers, with the ledger (points sent, points stored) written next to the test."""
    ledger = Ledger(row, tmp_path)
    (tmp_path / "ledger.json").write_text(json.dumps({"sent": sent, "stored": stored}))
    distinct = set(stored)
    return ledger, Result(
        row, len(sent), lost=len(set(sent) - distinct), double=len(stored) - len(distinct), notes=notes
    )


def test_row7_v1_a_store_answering_503_and_429_gets_every_batch_after_retry_after(influx, tmp_path):
    proxy = RefusingProxy(influx, REFUSALS)
    settings = Settings(influx_url=proxy.url, data_dir=tmp_path)
    lines, sent = lines_for("row7v1", int(time.time() * 1000) - 3_600_000)
    asyncio.run(with_api(V1Api, settings, lines, batch_lines=250))
    proxy.shutdown()
    early, shortest = honoured(proxy.attempts)
    ledger, result = compare(
        "7 store 503/429 Retry-After (v1)",
        tmp_path,
        sent,
        influx_keys(influx, "row7v1"),
        refusals=len(REFUSALS),
        retries_too_early=early,
        shortest_wait_s=round(shortest, 2),
    )
    result.passed = result.lost == 0 and early == 0
    ledger.publish_result(result)
    assert early == 0, proxy.attempts
    assert (result.lost, result.double) == (0, 0), result


def vm_keys(url: str, name: str, expected: int, timeout_s: float = 20) -> list[tuple[str, int]]:
    deadline = time.monotonic() + timeout_s
    keys: list[tuple[str, int]] = []
    while time.monotonic() < deadline:
        httpx.get(f"{url}/internal/force_flush")
        export = httpx.post(f"{url}/api/v1/export", data={"match[]": f'{{__name__="{name}"}}'}).text
        keys = [(s["metric"]["runner"], ts) for s in map(json.loads, export.splitlines()) for ts in s["timestamps"]]
        if len(keys) >= expected:
            break
        time.sleep(0.3)
    return keys


def test_row6_7_v2_retries_outlive_influxdb_clients_five_tries_and_honour_retry_after(victoria, tmp_path):
    proxy = RefusingProxy(victoria, REFUSALS)
    settings = Settings(influx_url=proxy.url, influx_token="t", data_dir=tmp_path)
    lines, sent = lines_for("row7v2", int(time.time() * 1000) - 3_600_000)  # VictoriaMetrics hides the last 30 s
    asyncio.run(with_api(V2Api, settings, lines, batch_lines=250))
    proxy.shutdown()
    early, shortest = honoured(proxy.attempts)
    ledger, result = compare(
        "6/7 store 503/429, 7 tries (v2)",
        tmp_path,
        sent,
        vm_keys(victoria, "row7v2_v", POINTS),
        refusals=len(REFUSALS),
        retries_too_early=early,
        shortest_wait_s=round(shortest, 2),
    )
    result.passed = result.lost == 0 and early == 0
    ledger.publish_result(result)
    assert early == 0, proxy.attempts
    assert (result.lost, result.double) == (0, 0), result


def test_row8_one_bad_point_is_dead_lettered_and_the_good_points_of_its_batch_stored(influx, tmp_path):
    settings = Settings(influx_url=influx, data_dir=tmp_path)
    lines, sent = lines_for("row8", int(time.time() * 1000) - 3_600_000)
    bad = f'row8,runner=r0 v="not a number" {int(time.time() * 1000) - 1_000}'  # a string where floats live
    lines.insert(POINTS // 2, bad)
    writer = asyncio.run(with_api(V1Api, settings, lines, batch_lines=5_000))  # one batch
    dead = [json.loads(line) for line in (tmp_path / "deadletter" / "store.jsonl").read_text().splitlines()]
    ledger, result = compare(
        "8 one bad point in a batch",
        tmp_path,
        sent,
        influx_keys(influx, "row8"),
        dead_lettered=len(dead),
        rejected=writer.rejected_points,
    )
    result.passed = result.lost == 0 and [d["line"] for d in dead] == [bad] and "conflict" in dead[0]["reason"]
    ledger.publish_result(result)
    assert [d["line"] for d in dead] == [bad]
    assert "conflict" in dead[0]["reason"], dead
    assert (result.lost, result.double) == (0, 0), result
