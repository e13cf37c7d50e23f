"""FIT files to runs (ingest/fit.py): every file of tests/data/fit/ is a case (its README says what
each file is and must give); the two `-records.csv` files are expected decodes, compared row by row."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from footpod.contract import iso
from ingest.fit import FitRejected, _cadence_spm, _Clock, decode_fit
from ingest.validate import MAX_SAMPLES_PER_RECORD, judge

FIT = Path(__file__).resolve().parents[2] / "data" / "fit"


def decode(name: str):
    return decode_fit((FIT / name).read_bytes(), name)


def only_run(name: str):
    result = decode(name)
    assert result.outcome == "imported", result.reason
    assert len(result.runs) == 1
    return result.runs[0]


# --- expected decodes ----------------------------------------------------------------------------


def test_fenix_5_run_matches_its_expected_decode_row_by_row():
    run = only_run("garmin-fenix-5-run.fit")
    with (FIT / "garmin-fenix-5-run-records.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(run.samples) == len(rows) == 21
    for sample, row in zip(run.samples, rows):
        local = datetime.strptime(row["timestamp"].replace(" PDT", ""), "%a %b %d %H:%M:%S %Y")
        utc = local.replace(tzinfo=UTC) + timedelta(hours=7)  # PDT is UTC-7
        assert sample.ts == int(utc.timestamp() * 1000), row
        assert sample.distance_m == pytest.approx(float(row["distance"]), abs=1e-6), row
        assert sample.speed_mps == pytest.approx(float(row["speed"]), abs=1e-6), row
        # the CSV writes whole strides per minute; the sample adds the fraction and doubles
        strides = int(row["cadence"])
        assert 2 * strides <= sample.cadence_spm < 2 * (strides + 1), row


def test_compressed_speed_distance_matches_its_expected_decode_row_by_row():
    run = only_run("compressed-speed-distance.fit")
    with (FIT / "compressed-speed-distance-records.csv").open() as handle:
        rows = list(csv.reader(handle))[1:]
    # the CSV, like the run, starts at the first record with a distance
    assert len(run.samples) == len(rows) == 754
    first_relative = int(rows[0][0])
    for sample, (stamp, _hr, speed, distance, cadence) in zip(run.samples, rows):
        assert sample.ts - run.samples[0].ts == (int(stamp) - first_relative) * 1000
        assert sample.distance_m == pytest.approx(float(distance), abs=1e-6)
        assert sample.speed_mps == pytest.approx(float(speed), abs=1e-6)
        # invalid cadence (CSV "null") is 0 spm, never 2 x 0xFF
        assert sample.cadence_spm == (0.0 if cadence == "null" else 2 * float(cadence))
    assert run.invalid_cadence == 1 and run.records_without_distance == 1


def test_relative_timestamps_are_tied_to_the_date_by_the_activity_message():
    run = only_run("compressed-speed-distance.fit")
    # activity: timestamp 17221751 (relative) at local 2012-02-13 12:21:03; first distance at 17217869
    assert iso(run.samples[0].ts) == "2012-02-13T11:16:21Z"


def test_relative_timestamps_with_nothing_to_tie_them_to_a_date_reject_the_file():
    with pytest.raises(FitRejected, match="relative timestamps"):
        _Clock(None).seconds(17_217_869)


# --- each file of the folder ---------------------------------------------------------------------


def test_a_plain_watch_run_gives_its_whole_distance_and_running_cadence():
    run = only_run("activity-small-fenix2-run.fit")
    assert len(run.samples) == 2809
    assert run.distance_m == pytest.approx(9008.22, rel=0.001)
    assert run.session_distance_m == pytest.approx(9008.22)
    cadences = sorted(s.cadence_spm for s in run.samples)
    assert cadences[len(cadences) // 2] == pytest.approx(162, abs=10)  # session avg 81 strides/min


def test_a_footpod_vendor_file_with_developer_fields_decodes():
    run = only_run("developer-types-sample.fit")
    assert len(run.samples) == 3424
    assert run.distance_m == pytest.approx(6753.99, rel=0.001)


def test_a_footpod_names_the_device_and_the_watch_names_the_run():
    run = only_run("compressed-speed-distance.fit")
    assert run.device_id == "3442746"  # device_info: sdm4, device_type 124 (stride_speed_distance)
    created = 17217864 - 17221751 + int(datetime(2012, 2, 13, 12, 21, 3, tzinfo=UTC).timestamp())
    assert run.run_id == f"fit:1215347:{created}"  # file_id: fr70 serial, time_created
    assert run.distance_m == pytest.approx(10248.67, rel=0.001)


def test_without_a_footpod_the_watch_is_the_device():
    run = only_run("garmin-fenix-5-run.fit")
    created = int(datetime(2017, 6, 11, 14, 34, 9, tzinfo=UTC).timestamp())
    assert (run.device_id, run.run_id) == ("3945849289", f"fit:3945849289:{created}")


def test_fractional_cadence_is_added_before_doubling():
    assert _cadence_spm({"cadence": 85, "fractional_cadence": 0.5}) == 171.0
    assert _cadence_spm({"cadence": 85}) == 170.0
    assert _cadence_spm({"cadence": None}) is None  # 0xFF: invalid, not 510
    assert _cadence_spm({"cadence": 200}) is None  # 400 spm is no running cadence


@pytest.mark.parametrize(
    "name, sport",
    [
        ("garmin-fenix-5-walk.fit", "walking"),
        ("garmin-edge-820-bike.fit", "cycling"),
    ],
)
def test_walks_and_rides_are_skipped_with_a_reason(name, sport):
    result = decode(name)
    assert result.outcome == "skipped" and not result.runs
    assert [s.sport for s in result.skipped] == [sport]
    assert "not running" in result.reason


def test_only_the_run_leg_of_a_triathlon_counts():
    result = decode("sample_mulitple_header.fit")
    assert [s.sport for s in result.skipped] == ["swimming", "transition", "cycling", "transition"]
    [run] = result.runs
    assert run.distance_m == pytest.approx(9805.92, rel=0.01)
    running = [s.cadence_spm for s in run.samples if s.cadence_spm >= 140]
    assert sum(running) / len(running) == pytest.approx(167, abs=3)


def test_a_run_with_no_distance_counts_nothing_and_says_why():
    result = decode("antfs-dump.63.fit")
    assert result.outcome == "skipped" and not result.runs
    assert "no distance" in result.reason


@pytest.mark.parametrize(
    "name, words",
    [
        ("strava-android-app-201.10-b1218918.fit", "7471"),
        ("invalid-activity-filecrc.fit", "CRC"),
        ("invalid-activity-unexpected-eof.fit", "truncated"),
        ("invalid-activity-settings-corruptheader.fit", "file 2 of a chain"),
    ],
)
def test_corrupt_truncated_and_half_valid_files_are_rejected_whole(name, words):
    result = decode(name)
    assert result.outcome == "rejected" and not result.runs
    assert words in result.reason


def test_every_file_of_the_folder_gives_its_expected_outcome():
    outcomes = {path.name: decode_fit(path.read_bytes()).outcome for path in sorted(FIT.glob("*.fit"))}
    assert outcomes == {
        "activity-small-fenix2-run.fit": "imported",
        "antfs-dump.63.fit": "skipped",
        "compressed-speed-distance.fit": "imported",
        "developer-types-sample.fit": "imported",
        "garmin-edge-820-bike.fit": "skipped",
        "garmin-fenix-5-run.fit": "imported",
        "garmin-fenix-5-walk.fit": "skipped",
        "invalid-activity-filecrc.fit": "rejected",
        "invalid-activity-settings-corruptheader.fit": "rejected",
        "invalid-activity-unexpected-eof.fit": "rejected",
        "sample_mulitple_header.fit": "imported",
        "strava-android-app-201.10-b1218918.fit": "rejected",
    }


def test_a_file_that_is_no_fit_file_is_rejected():
    assert decode_fit(b"").outcome == "rejected"
    assert decode_fit(b"<gpx>not a fit file</gpx>" * 10).outcome == "rejected"


# --- identity and what reaches the bridge --------------------------------------------------------


def test_the_same_file_twice_gives_the_same_run_and_samples():
    data = (FIT / "compressed-speed-distance.fit").read_bytes()
    assert decode_fit(data, "a").runs == decode_fit(data, "b").runs


def test_records_without_distance_are_left_out_and_timestamps_are_unique_and_ordered():
    for name in ("activity-small-fenix2-run.fit", "compressed-speed-distance.fit", "sample_mulitple_header.fit"):
        run = only_run(name)
        stamps = [s.ts for s in run.samples]
        assert stamps == sorted(set(stamps)), name
        assert all(s.run_id == run.run_id and s.device_id == run.device_id for s in run.samples)


def test_every_decoded_sample_passes_the_bridge_unchanged():
    from ingest.importer import batches

    run = only_run("activity-small-fenix2-run.fit")
    payloads = batches(run, size=1000)
    assert [len(json.loads(p)) for p in payloads] == [1000, 1000, 809]
    kept = []
    for payload in payloads:
        verdict = judge("footpod/alice/samples", payload, run.end_ms + 1000, 300_000)
        assert not verdict.rejects
        kept.extend(s for batch in verdict.batches for s in batch.samples)
    assert [(s.ts, s.distance_m, s.cadence_spm) for s in kept] == [
        (s.ts, s.distance_m, s.cadence_spm) for s in run.samples
    ]


def test_a_full_batch_stays_one_kafka_record_well_under_a_megabyte_even_with_the_longest_ids():
    from ingest.importer import BATCH_SAMPLES, batches

    run = only_run("developer-types-sample.fit")
    longest = [s.model_copy(update={"device_id": "d" * 64, "run_id": "r" * 128}) for s in run.samples[:BATCH_SAMPLES]]
    [payload] = batches(run.model_copy(update={"samples": tuple(longest)}))
    verdict = judge("footpod/alice/samples", payload, run.end_ms + 1000, 300_000)
    assert len(verdict.batches) == 1 and BATCH_SAMPLES <= MAX_SAMPLES_PER_RECORD
    from ingest.bridge import sample_records

    [record] = sample_records(verdict.batches[0], max_bytes=1_000_000)  # one value, not cut
    assert len(record) < 1_000_000


SMALL = (FIT / "garmin-fenix-5-run.fit").read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SMALL) - 1))
def test_a_file_cut_short_anywhere_is_rejected_and_publishes_nothing(length):
    result = decode_fit(SMALL[:length])
    assert result.outcome == "rejected" and not result.runs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=14, max_value=len(SMALL) - 1), st.integers(min_value=1, max_value=255))
def test_a_changed_byte_anywhere_in_the_body_rejects_the_file(position, flip):
    data = bytearray(SMALL)
    data[position] ^= flip
    result = decode_fit(bytes(data))
    assert result.outcome == "rejected" and not result.runs


def test_a_run_later_than_the_bridge_accepts_rejects_the_whole_file():
    data = (FIT / "garmin-fenix-5-run.fit").read_bytes()
    run = decode_fit(data).runs[0]
    assert decode_fit(data, not_after_ms=run.end_ms).outcome == "imported"
    result = decode_fit(data, not_after_ms=run.end_ms - 1)
    assert result.outcome == "rejected" and not result.runs and "in the future" in result.reason


@pytest.mark.parametrize(
    "name, position, value",
    [
        ("garmin-fenix-5-run.fit", 0, 146),  # a header size the decoder reads past: struct.error inside it
        ("garmin-edge-820-bike.fit", 3939, 48),  # an assertion inside the decoder
    ],
)
def test_damage_that_trips_the_decoder_itself_is_a_rejection_not_a_crash(name, position, value):
    data = bytearray((FIT / name).read_bytes())
    data[position] = value
    result = decode_fit(bytes(data))
    assert result.outcome == "rejected" and "decoder failed" in result.reason
