"""Every read-back query of `footpod.schema` against real InfluxDB 1.x: what was written comes back."""

import asyncio
import time

import httpx
import pytest

from alerts.points import alert_point, pain_point
from footpod import schema
from footpod.contract import Alert, PainReport, iso
from footpod.errors import StoreReadError
from footpod.records import LoadSnapshot, RunEvaluation, RunSummary
from footpod.settings import Settings
from footpod.timeseries import V1Api, Writer, open_api, query_now
from streams.points import run_point

HOUR_MS = 3_600_000


def written_and_read(settings: Settings, lines: list[str], read):
    async def go():
        async with httpx.AsyncClient() as client:
            api = await open_api(settings, client)
            assert isinstance(api, V1Api)
            writer = Writer(api)
            task = asyncio.create_task(writer.run())
            await asyncio.wait_for(writer.write(lines), 30)
            task.cancel()
            return await read(api.query)

    return asyncio.run(go())


def run_of(runner: str, run_id: str, start_ms: int, km: float) -> tuple[RunSummary, str]:
    run = RunSummary(
        run_id=run_id,
        device_id="pod",
        start_ms=start_ms,
        end_ms=start_ms + HOUR_MS,
        km=km,
        samples=3600,
        cadence_spm=171.5,
    )
    load = LoadSnapshot(
        as_of_ms=run.end_ms,
        week_km=km,
        prev_week_km=0.0,
        change_pct=None,
        chronic_week_km=km / 4,
        acwr=None,
        acwr_ewma=None,
        history_days=1.0,
    )
    evaluation = RunEvaluation(run=run, load=load, cadence_baseline_spm=None, cadence_dev_pct=None, live=False)
    return run, run_point(runner, "harriers", evaluation, [])


def test_runs_read_back_as_written_newest_version_of_each(stack):
    runner = f"probe-runs-{time.time_ns()}"
    now = int(time.time() * 1000)
    first, first_line = run_of(runner, "a", now - 48 * HOUR_MS, 5.0)
    first_longer, longer_line = run_of(runner, "a", now - 48 * HOUR_MS, 6.5)  # the same run, more of it
    second, second_line = run_of(runner, "b", now - 24 * HOUR_MS, 8.0)
    runs = written_and_read(
        Settings(influx_url=stack.influx_url),
        [first_line, second_line, longer_line],
        lambda query: schema.read_runs(query, runner, days=80),
    )
    assert runs == (first_longer, second)


def test_reports_read_back_as_written(stack):
    runner = f"probe-pain-{time.time_ns()}"
    now = int(time.time() * 1000)
    reports = [
        PainReport.model_validate(
            {"ts": now - i * HOUR_MS, "score": i, "flags": ["swelling"] if i else [], "location": "outside"}
        )
        for i in range(3)
    ]
    lines = [pain_point(runner, "harriers", report, "after", "progress", None) for report in reports]
    read = written_and_read(
        Settings(influx_url=stack.influx_url), lines, lambda query: schema.read_reports(query, runner, days=80)
    )
    assert sorted(read, key=lambda r: r.ts) == sorted(reports, key=lambda r: r.ts)


def test_alert_ids_read_back_and_the_status_command_finds_the_alerts(stack):
    runner = f"probe-alert-{time.time_ns()}"
    now = int(time.time() * 1000)
    alerts = [
        Alert(
            id=f"id-{i}",
            runner=runner,
            team="harriers",
            ts=iso(now - i * HOUR_MS),
            rule="progression",
            severity="warning",
            action="hold",
            message=f"message {i}",
            details={},
        )
        for i in range(3)
    ]
    settings = Settings(influx_url=stack.influx_url)
    ids = written_and_read(
        settings, [alert_point(a) for a in alerts], lambda query: schema.read_alert_ids(query, runner, days=80)
    )
    assert ids == {"id-0", "id-1", "id-2"}
    recent = query_now(settings, schema.recent_alerts_query(runner, days=7, limit=2))
    assert [row["message"] for row in recent] == ["message 0", "message 1"]
    assert query_now(settings, schema.earlier_alerts_query(runner, days=7, limit=3)) == []


def test_alerts_of_older_history_are_found_apart_from_the_recent_ones(stack):
    runner = f"probe-history-{time.time_ns()}"
    now = int(time.time() * 1000)
    alerts = [
        Alert(
            id=f"id-{days}",
            runner=runner,
            team="harriers",
            ts=iso(now - days * 24 * HOUR_MS),
            rule="progression",
            severity="warning",
            action="hold",
            message=f"{days} days ago",
            details={},
        )
        for days in (1, 8, 200, 210)
    ]
    settings = Settings(influx_url=stack.influx_url)
    written_and_read(
        settings, [alert_point(a) for a in alerts], lambda query: schema.read_alert_ids(query, runner, days=400)
    )
    earlier = query_now(settings, schema.earlier_alerts_query(runner, days=7, limit=2))
    assert [row["message"] for row in earlier] == ["8 days ago", "200 days ago"]
    recent = query_now(settings, schema.recent_alerts_query(runner, days=7, limit=10))
    assert [row["message"] for row in recent] == ["1 days ago"]


def test_the_report_that_set_a_gate_is_found_at_its_time(stack):
    runner = f"probe-gate-{time.time_ns()}"
    now = int(time.time() * 1000)
    report = PainReport.model_validate({"ts": now - HOUR_MS, "score": 6, "flags": ["locking"]})
    settings = Settings(influx_url=stack.influx_url)
    written_and_read(
        settings,
        [pain_point(runner, "harriers", report, "next_day", "see_clinician", None)],
        lambda query: schema.read_reports(query, runner, days=80),
    )
    (row,) = query_now(settings, schema.report_at_query(runner, report.ts))
    assert (row["score"], row["timing"], row["flags"]) == (6, "next_day", "locking")


def test_a_read_back_from_a_store_that_is_not_there_raises(stack):
    from monitor import servers

    settings = Settings(influx_url=f"http://127.0.0.1:{servers.free_port()}")
    with pytest.raises(StoreReadError):
        query_now(settings, schema.runs_query("alice", 80))

    async def go():
        async with httpx.AsyncClient() as client:
            return await schema.read_runs(V1Api(client, settings).query, "alice", 80)

    with pytest.raises(StoreReadError):
        asyncio.run(go())


def test_the_streams_seed_reads_back_a_runners_segments_and_finds_runs_left_open(stack):
    from streams.seed import runners_with_open_runs, seed_state
    from streams.segments import Segment

    runner = f"probe-seed-{time.time_ns()}"
    now = int(time.time() * 1000)
    run = RunSummary(
        run_id="s1",
        device_id="pod",
        start_ms=now - 2 * HOUR_MS,
        end_ms=now - HOUR_MS,
        km=9.0,
        samples=3600,
        cadence_spm=170.0,
    )
    load = LoadSnapshot(
        as_of_ms=run.end_ms,
        week_km=9.0,
        prev_week_km=0.0,
        change_pct=None,
        chronic_week_km=2.25,
        acwr=None,
        acwr_ewma=None,
        history_days=1.0,
    )
    open_run = RunEvaluation(
        run=run, load=load, cadence_baseline_spm=None, cadence_dev_pct=None, live=False, final=False
    )
    segment = Segment.of(
        start_ms=run.start_ms,
        end_ms=run.end_ms,
        first_m=0.0,
        last_m=9000.0,
        meters=9000.0,
        samples=3600,
        running_samples=3600,
        running_spm_sum=3600 * 170.0,
    )

    async def read(query):
        return None

    written_and_read(Settings(influx_url=stack.influx_url), [run_point(runner, "harriers", open_run, [segment])], read)

    async def seed():
        async with httpx.AsyncClient() as client:
            api = await open_api(Settings(influx_url=stack.influx_url), client)
            return await seed_state(api, runner), await runners_with_open_runs(api)

    state, open_runners = asyncio.run(seed())
    assert state.devices["pod"] == (segment,)
    assert runner in open_runners


def test_many_runners_read_back_at_once_as_each_reads_back_alone(stack, monkeypatch):
    stamp = time.time_ns()
    # `.` matches any character in a regular expression: "a.b" must not find "axb"'s history
    dotted, lookalike, alerts_only, nothing = (f"p{stamp}.b", f"p{stamp}xb", f"p{stamp}-alerts", f"p{stamp}_none")
    now = int(time.time() * 1000)
    lines = []
    for n, runner in enumerate((dotted, lookalike)):
        for day in range(3):
            _, line = run_of(runner, f"{runner}-{day}", now - (day + 1) * 24 * HOUR_MS, 5.0 + n + day)
            lines.append(line)
        report = PainReport.model_validate({"ts": now - (n + 1) * HOUR_MS, "score": n + 2, "flags": []})
        lines.append(pain_point(runner, "harriers", report, "after", "progress", None))
    _, longer = run_of(dotted, f"{dotted}-0", now - 24 * HOUR_MS, 9.5)  # a newer version of a run
    lines.append(longer)
    for n, runner in enumerate((dotted, alerts_only)):
        alert = Alert(
            id=f"{runner}-alert",
            runner=runner,
            team="harriers",
            ts=iso(now - n * HOUR_MS),
            rule="progression",
            severity="warning",
            action="hold",
            message="m",
            details={},
        )
        lines.append(alert_point(alert))
    runners = [dotted, lookalike, alerts_only, nothing]
    monkeypatch.setattr(schema, "READ_BACK_CHUNK", 3)  # two queries of each kind: the chunks join up

    async def both(query):
        asked: list[str] = []

        async def counted(influxql: str):
            asked.append(influxql)
            return await query(influxql)

        together = (
            await schema.read_alert_ids_of(counted, runners, 80),
            await schema.read_runs_of(counted, runners, 80),
            await schema.read_reports_of(counted, runners, 80),
        )
        alone = [
            {runner: await schema.read_alert_ids(query, runner, 80) for runner in runners},
            {runner: await schema.read_runs(query, runner, 80) for runner in runners},
            {runner: await schema.read_reports(query, runner, 80) for runner in runners},
        ]
        return together, alone, asked

    together, alone, asked = written_and_read(Settings(influx_url=stack.influx_url), lines, both)
    assert len(asked) == 6
    assert list(together) == alone
    alert_ids, runs, reports = together
    assert alert_ids == {
        dotted: {f"{dotted}-alert"},
        lookalike: set(),
        alerts_only: {f"{alerts_only}-alert"},
        nothing: set(),
    }
    assert [run.km for run in runs[dotted]] == [7.0, 6.0, 9.5]
    assert [run.km for run in runs[lookalike]] == [8.0, 7.0, 6.0]
    assert runs[alerts_only] == runs[nothing] == ()
    assert [report.score for report in reports[dotted]] == [2]
    assert [report.score for report in reports[lookalike]] == [3]
    assert reports[alerts_only] == reports[nothing] == []


def test_a_read_back_of_many_runners_from_a_store_that_is_not_there_raises(stack):
    from monitor import servers

    settings = Settings(influx_url=f"http://127.0.0.1:{servers.free_port()}")

    async def go():
        async with httpx.AsyncClient() as client:
            return await schema.read_runs_of(V1Api(client, settings).query, ["alice", "bob"], 80)

    with pytest.raises(StoreReadError):
        asyncio.run(go())
