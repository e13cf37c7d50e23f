"""The store's schema: each measurement's line protocol pinned, and the schema refusing what it does not name."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.points import alert_point, load_point, pain_point
from footpod import schema
from footpod.contract import Alert, CountedSample, PainReport
from footpod.records import LoadSnapshot, RunEvaluation, RunSummary
from streams.points import cadence_points, run_point, superseded_run_point
from streams.segments import Segment

RUN = RunSummary(
    run_id="r1",
    device_id="pod-1",
    start_ms=1_760_000_000_000,
    end_ms=1_760_003_600_000,
    km=10.12345678,
    samples=3600,
    cadence_spm=171.234,
)
LOAD = LoadSnapshot(
    as_of_ms=1_760_003_600_000,
    week_km=30.1234,
    prev_week_km=28.0,
    change_pct=7.5862,
    chronic_week_km=27.5,
    acwr=1.0954,
    acwr_ewma=1.0412,
    history_days=40.0,
)
EVALUATION = RunEvaluation(
    run=RUN, load=LOAD, cadence_baseline_spm=170.0, cadence_dev_pct=0.7259, live=False, device_km=412.3456
)
SEGMENT = Segment.of(
    start_ms=RUN.start_ms,
    end_ms=RUN.end_ms,
    first_m=0.0,
    last_m=10123.45,
    meters=10123.45,
    samples=3600,
    running_samples=3500,
    running_spm_sum=599319.0,
    run_id=None,
)
REPORT = PainReport.model_validate(
    {
        "ts": 1_760_010_000_000,
        "score": 3,
        "flags": ["swelling"],
        "timing": "after",
        "location": "outside",
        "distance_m": 4200,
    }
)
ALERT = Alert(
    id="abc123",
    runner="alice",
    team="harriers",
    ts="2025-10-09T09:53:20.000Z",
    rule="progression",
    severity="warning",
    action="hold",
    message='week "up" 12 %, hold',
    details={},
)

# Golden lines: a change here is a change of the stored schema, which dashboards and restarts read.
GOLDEN = {
    "run": "run,device=pod-1,runner=alice,team=harriers cadence_dev_pct=0.73,cadence_spm=171.23,device_km=412.346,"
    'duplicate_of="",duration_s=3600,end_ms=1760003600000i,final=true,km=10.1235,run_id="r1",samples=3600i,'
    'segments="[{\\"start_ms\\":1760000000000,\\"end_ms\\":1760003600000,\\"first_m\\":0.0,'
    '\\"last_m\\":10123.45,\\"meters\\":10123.45,\\"samples\\":3600,\\"running_samples\\":3500,'
    '\\"running_spm_sum\\":599319.0,\\"run_id\\":null,\\"arrived_ms\\":null}]",source_km=10.1235 1760000000000',
    "cadence": "cadence,device=pod-1,runner=alice,team=harriers distance_m=6,speed_mps=3,spm=171 1760000000000",
    "load": "load,runner=alice,team=harriers acwr=1.095,acwr_ewma=1.041,budget_km=0.677,change_pct=7.586,"
    'chronic_week_km=27.5,gate="progress",prev_week_km=28,week_km=30.123 1760003600000',
    "pain": 'pain,runner=alice,team=harriers,timing=after decision="see_clinician",distance_m=4200,flags="swelling",'
    'location="outside",report="{\\"ts\\":1760010000000,\\"score\\":3,\\"timing\\":\\"after\\",'
    '\\"worsening\\":false,\\"flags\\":[\\"swelling\\"],\\"location\\":\\"outside\\",\\"run_id\\":null,'
    '\\"distance_m\\":4200.0}",run_id="r1",score=3i,worsening=false 1760010000000',
    "alert": 'alert,rule=progression,runner=alice,severity=warning,team=harriers action="hold",id="abc123",'
    'message="week \\"up\\" 12 %, hold" 1760003600000',
}


def _built() -> dict[str, str]:
    samples = [
        CountedSample(
            device_id="pod-1", ts=1_760_000_000_000 + i * 1000, cadence_spm=170.0 + i, distance_m=3.0 * i, speed_mps=3.0
        )
        for i in range(3)
    ]
    (cadence,) = cadence_points("alice", "harriers", samples)
    return {
        "run": run_point("alice", "harriers", EVALUATION, [SEGMENT]),
        "cadence": cadence,
        "load": load_point("alice", "harriers", LOAD, "progress"),
        "pain": pain_point("alice", "harriers", REPORT, "after", "see_clinician", "r1"),
        "alert": alert_point(ALERT),
    }


@pytest.mark.parametrize("measurement", sorted(GOLDEN))
def test_each_measurement_is_written_as_its_golden_line(measurement):
    assert _built()[measurement] == GOLDEN[measurement]


def test_a_superseded_run_is_written_with_no_distance_naming_the_run_that_counts():
    line = superseded_run_point("alice", "harriers", RUN, "r0")
    assert line == (
        'run,device=pod-1,runner=alice,team=harriers duplicate_of="r0",duration_s=0,end_ms=1760003600000i,'
        'final=true,km=0,run_id="r1",samples=0i,segments="[]",source_km=0,superseded_by="r0" 1760000000000'
    )


def test_every_measurement_of_the_schema_has_a_golden_line():
    assert {m.name for m in schema.MEASUREMENTS} == set(GOLDEN)


def test_every_field_a_point_writes_is_named_by_the_schema():
    for measurement in schema.MEASUREMENTS:
        line = _built()[measurement.name]
        fields = line.split(" ", 1)[1].rsplit(" ", 1)[0]
        names = {part.split("=", 1)[0] for part in _split_fields(fields)}
        assert names <= set(measurement.fields) | set(measurement.optional), measurement.name


def _split_fields(text: str) -> list[str]:
    """Field assignments of a line's field set, commas inside quoted strings kept."""
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            current, escaped = current + char, True
        elif char == '"':
            current, quoted = current + char, not quoted
        elif char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def test_a_field_the_schema_does_not_name_is_refused():
    with pytest.raises(ValueError, match="unknown fields"):
        schema.LOAD.line(
            {"runner": "a", "team": "t"},
            {"week_km": 1.0, "prev_week_km": 1.0, "chronic_week_km": 1.0, "gate": "progress", "weekly_km": 2.0},
            0,
        )


def test_a_missing_required_field_is_refused():
    with pytest.raises(ValueError, match="missing"):
        schema.ALERT.line(
            {"runner": "a", "team": "t", "rule": "r", "severity": "info"}, {"message": "m", "action": "hold"}, 0
        )


def test_a_missing_tag_is_refused():
    with pytest.raises(ValueError, match="tags"):
        schema.ALERT.line({"runner": "a", "team": "t"}, {"message": "m", "action": "hold", "id": "x"}, 0)


def test_stored_runs_keep_the_newest_version_of_each_run_ordered_by_end():
    rows = [
        {"time": 1000, "device": "pod", "run_id": "b", "end_ms": 9000, "km": 2.0, "samples": 8, "cadence_spm": None},
        {"time": 0, "device": "pod", "run_id": "a", "end_ms": 5000, "km": 1.0, "samples": 5, "cadence_spm": 170.0},
        {"time": 0, "device": "pod", "run_id": "a", "end_ms": 6000, "km": 1.2, "samples": 6, "cadence_spm": 171.0},
        {"time": 0, "device": "pod", "run_id": None, "end_ms": 6000},  # not a run row
    ]
    runs = schema.runs(rows)
    assert [(run.run_id, run.km) for run in runs] == [("a", 1.2), ("b", 2.0)]


def test_a_stored_report_reads_back_as_the_report_written():
    line_report = REPORT.model_dump_json()
    assert schema.reports([{"report": line_report}, {"report": None}]) == [REPORT]


async def _failing(influxql: str):
    raise ConnectionError("store down")


def test_a_read_back_that_fails_raises_instead_of_returning_an_empty_history():
    import asyncio

    from footpod.errors import StoreReadError

    with pytest.raises(StoreReadError, match="store down"):
        asyncio.run(schema.read_runs(_failing, "alice", 80))


_names = st.text(min_size=1, max_size=8).filter(lambda name: not name.startswith("#"))
_values = st.one_of(st.floats(), st.integers(-(10**12), 10**12), st.booleans(), st.text(max_size=10))


@settings(max_examples=300, deadline=None)  # the first example imports influxdb-client
@given(
    _names,
    st.dictionaries(_names, st.text(max_size=8), max_size=3),
    st.dictionaries(_names, _values, min_size=1, max_size=4),
    st.integers(0, 2**45),
)
def test_lines_are_the_ones_influxdb_client_writes(name, tags, fields, ts_ms):
    from influxdb_client import Point, WritePrecision

    from footpod.schema import _line

    point = Point(name)
    for key, value in tags.items():
        point.tag(key, value)
    for key, value in fields.items():
        point.field(key, value)
    assert _line(name, tags, fields, ts_ms) == point.time(ts_ms, WritePrecision.MS).to_line_protocol()


def test_a_read_back_of_several_runners_names_each_as_the_single_runner_query_does():
    runners = ["ana", "o'neil", "back\\slash", "a.b"]
    query = schema.runs_of_query(runners, 80)
    for runner in runners:
        single = schema.runs_query(runner, 80)
        condition = single[single.index('"runner" = ') :].split(" AND ")[0]
        assert condition in query  # quotes and backslashes escaped alike
    assert query.count('"runner" = ') == len(runners) and query.endswith('GROUP BY "runner"')


@st.composite
def _point(draw):
    """A measurement of the schema and a point of it: its tags, and each of its fields given as a
    value of any type its writer takes (a float as an int, a count as a float...), or absent."""
    measurement = draw(st.sampled_from(schema.MEASUREMENTS))
    tags = {tag: draw(st.text(max_size=6)) for tag in measurement.tags}
    loose = st.one_of(
        st.floats(), st.integers(-(10**12), 10**12), st.booleans(), st.text(max_size=8).filter(str.isdigit)
    )
    fields = {name: draw(loose) for name in measurement.fields}
    fields |= {name: draw(st.none() | loose) for name in measurement.optional if draw(st.booleans())}
    return measurement, tags, fields, draw(st.integers(0, 2**45))


@given(_point())
def test_a_measurement_writes_each_field_as_its_type_then_as_any_line(point):
    """`Measurement.line` is `_line` of the fields each converted to the schema's type (`int(x)` for
    an int field...), absent ones left out: the lines the writers made before its fast path."""
    measurement, tags, fields, ts_ms = point
    kinds = {**measurement.optional, **measurement.fields}
    try:
        typed = {name: kinds[name](value) for name, value in fields.items() if value is not None}
    except (ValueError, OverflowError):  # NaN or an infinity for a count: refused as `int()` refuses it
        with pytest.raises((ValueError, OverflowError)):
            measurement.line(tags, fields, ts_ms)
        return
    assert measurement.line(tags, fields, ts_ms) == schema._line(measurement.name, tags, typed, ts_ms)


@given(st.text(alphabet=st.sampled_from('ab"\\\\ ,=\n\t€')) | st.text())
def test_a_string_field_is_escaped_as_influxdb_client_escapes_it(text):
    assert schema._string_text(text) == '"' + text.translate(schema._ESCAPE_STRING) + '"'
