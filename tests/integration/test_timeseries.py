"""Writing points for real: the v2 API (VictoriaMetrics takes `/api/v2/write`) and InfluxDB 1.x."""

import asyncio
import json
import time

import httpx
import pytest

from footpod.settings import Settings
from footpod.timeseries import V1Api, V2Api, Writer, open_api
from monitor import servers


@pytest.fixture(scope="module")
def victoria(tmp_path_factory):
    server = servers.victoria_metrics(tmp_path_factory.mktemp("vm"), port=servers.free_port()).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


async def write_lines(settings: Settings, lines: list[str]) -> tuple[type, Writer]:
    async with httpx.AsyncClient() as client:
        api = await open_api(settings, client)
        writer = Writer(api, batch_lines=3)
        task = asyncio.create_task(writer.run())
        await asyncio.wait_for(writer.write(lines), 30)
        task.cancel()
        return type(api), writer


def exported(url: str, name: str, expected_values: int, timeout_s: float = 20) -> list[dict]:
    """The series VictoriaMetrics exports for a metric, once it holds the expected values."""
    deadline = time.monotonic() + timeout_s
    series: list[dict] = []
    while time.monotonic() < deadline:
        httpx.get(f"{url}/internal/force_flush")
        export = httpx.post(f"{url}/api/v1/export", data={"match[]": f'{{__name__="{name}"}}'}).text
        series = [json.loads(line) for line in export.splitlines()]
        if sum(len(s["values"]) for s in series) >= expected_values:
            break
        time.sleep(0.3)
    return series


def test_points_reach_a_v2_server_through_influxdb_client(victoria):
    now = int(time.time() * 1000)
    lines = [
        f"load,runner=alice,team=harriers week_km={10 + i}.5,prev_week_km=9.0 {now - 3_600_000 - i * 60_000}"
        for i in range(7)
    ]
    # an hour old: VictoriaMetrics hides the last 30 s from queries
    api_type, writer = asyncio.run(write_lines(Settings(influx_url=victoria, influx_token="t"), lines))
    assert api_type is V2Api  # its /ping carries no 1.x version
    series = exported(victoria, "load_week_km", expected_values=7)
    assert series[0]["metric"]["runner"] == "alice"
    assert sorted(series[0]["values"]) == sorted(10.5 + i for i in range(7))
    assert writer.written_points == 7


def test_one_bad_point_is_refused_and_the_rest_of_its_batch_stored(stack):
    settings = Settings(influx_url=stack.influx_url)
    now = int(time.time() * 1000)
    lines = [f"typed,runner=r{i} value={i}.0 {now}" for i in range(5)]
    lines.insert(2, f'typed,runner=r0 value="not a number" {now + 1}')  # a string where floats live
    api_type, writer = asyncio.run(write_lines(settings, lines))
    assert api_type is V1Api
    rows = httpx.get(
        f"{stack.influx_url}/query", params={"db": "footpod", "q": "SELECT count(value) FROM typed"}
    ).json()
    assert rows["results"][0]["series"][0]["values"][0][1] == 5
    assert writer.rejected_points == 1
