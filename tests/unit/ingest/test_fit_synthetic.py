"""Synthetic FIT files, written with Garmin's FIT SDK encoder (a test-only dependency: `fitdecode`,
the decoder, has no encoder), for what the real files of tests/data/fit/ do not show."""

from __future__ import annotations

from datetime import UTC, datetime

import garmin_fit_sdk  # the `test` extra
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.fit import decode_fit

MESG = garmin_fit_sdk.Profile["mesg_num"]
CREATED = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
CREATED_S = int(CREATED.timestamp())
POWER_ON = 1000  # relative seconds of the device clock at CREATED


def fit_file(
    records: list[dict],
    sessions: list[dict],
    devices: tuple[dict, ...] = (),
    file_type: str = "activity",
    correlate: bool = True,
) -> bytes:
    """A FIT file timed in relative seconds (device clock), tied to CREATED by a correlation."""
    encoder = garmin_fit_sdk.Encoder()
    encoder.write_mesg(
        {
            "mesg_num": MESG["FILE_ID"],
            "type": file_type,
            "manufacturer": "garmin",
            "product": 1,
            "serial_number": 42,
            "time_created": CREATED,
        }
    )
    if correlate:
        encoder.write_mesg(
            {"mesg_num": MESG["TIMESTAMP_CORRELATION"], "timestamp": CREATED, "system_timestamp": POWER_ON}
        )
    for device in devices:
        encoder.write_mesg({"mesg_num": MESG["DEVICE_INFO"], **device})
    for record in records:
        encoder.write_mesg({"mesg_num": MESG["RECORD"], **record})
    for session in sessions:
        encoder.write_mesg({"mesg_num": MESG["SESSION"], **session})
    return encoder.close()


def steady(start: int, count: int, **fields) -> list[dict]:
    return [
        {"timestamp": start + i, "distance": 3.0 * i, "cadence": 85, "fractional_cadence": 0.5, "speed": 3.0, **fields}
        for i in range(count)
    ]


def running(start: int, end: int) -> dict:
    return {"sport": "running", "start_time": start, "timestamp": end, "total_distance": 3.0 * (end - start)}


FOOTPOD = {"device_index": 1, "source_type": "antplus", "device_type": 124, "serial_number": 777}
HEART = {"device_index": 2, "source_type": "antplus", "device_type": 120, "serial_number": 555}


def test_a_timestamp_correlation_ties_relative_time_to_the_date():
    [run] = decode_fit(fit_file(steady(POWER_ON + 60, 10), [running(POWER_ON + 60, POWER_ON + 69)])).runs
    assert run.samples[0].ts == (CREATED_S + 60) * 1000
    assert run.run_id == f"fit:42:{CREATED_S}"


def test_relative_time_with_nothing_to_tie_it_to_a_date_rejects_the_file():
    result = decode_fit(fit_file(steady(POWER_ON, 10), [running(POWER_ON, POWER_ON + 9)], correlate=False))
    assert result.outcome == "rejected" and "relative timestamps" in result.reason


def test_an_ant_footpod_is_the_device_and_a_heart_strap_is_not():
    data = fit_file(steady(POWER_ON, 5), [running(POWER_ON, POWER_ON + 4)], devices=(HEART, FOOTPOD))
    assert decode_fit(data).runs[0].device_id == "777"
    data = fit_file(steady(POWER_ON, 5), [running(POWER_ON, POWER_ON + 4)], devices=(HEART,))
    assert decode_fit(data).runs[0].device_id == "42"  # the recording device's serial


def test_invalid_cadence_and_impossible_speed_leave_the_reading_out_not_the_sample():
    records = steady(POWER_ON, 4)
    records[1] = {k: v for k, v in records[1].items() if k not in ("cadence", "fractional_cadence")}  # 0xFF
    records[2]["speed"] = 13.0  # above the contract's 12 m/s
    [run] = decode_fit(fit_file(records, [running(POWER_ON, POWER_ON + 3)])).runs
    assert [s.cadence_spm for s in run.samples] == [171.0, 0.0, 171.0, 171.0]
    assert [s.speed_mps for s in run.samples] == [3.0, 3.0, None, 3.0]
    assert run.invalid_cadence == 1


def test_records_without_distance_are_left_out_inside_and_before_the_run():
    records = steady(POWER_ON, 6)
    for index in (0, 3):
        del records[index]["distance"]
    [run] = decode_fit(fit_file(records, [running(POWER_ON, POWER_ON + 5)])).runs
    assert [s.distance_m for s in run.samples] == [3.0, 6.0, 12.0, 15.0]
    assert run.records_without_distance == 2 and run.distance_m == 12.0


def test_two_running_sessions_in_one_file_are_two_runs_with_their_own_records():
    records = steady(POWER_ON, 5) + steady(POWER_ON + 600, 5)
    sessions = [running(POWER_ON, POWER_ON + 4), running(POWER_ON + 600, POWER_ON + 604)]
    runs = decode_fit(fit_file(records, sessions)).runs
    assert [run.run_id for run in runs] == [f"fit:42:{CREATED_S}:1", f"fit:42:{CREATED_S}:2"]
    assert [len(run.samples) for run in runs] == [5, 5]
    assert runs[1].samples[0].ts == (CREATED_S + 600) * 1000


def test_a_file_that_is_no_activity_is_skipped_with_a_reason():
    result = decode_fit(fit_file([], [], file_type="settings"))
    assert result.outcome == "skipped" and "not an activity" in result.reason


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 129)), st.sampled_from([0.0, 0.5]), st.floats(0, 8, allow_nan=False)
        ),
        min_size=1,
        max_size=40,
    )
)
def test_every_record_with_a_distance_becomes_one_sample_with_steps_per_minute(readings):
    records, distance = [], 0.0
    for second, (strides, fraction, step) in enumerate(readings):
        distance += round(step, 2)
        record = {"timestamp": POWER_ON + second, "distance": round(distance, 2)}
        if strides is not None:
            record.update(cadence=strides, fractional_cadence=fraction)
        records.append(record)
    [run] = decode_fit(fit_file(records, [running(POWER_ON, POWER_ON + len(readings))])).runs
    assert len(run.samples) == len(readings)
    for sample, (strides, fraction, _) in zip(run.samples, readings):
        assert sample.cadence_spm == (0.0 if strides is None else 2 * (strides + fraction))
