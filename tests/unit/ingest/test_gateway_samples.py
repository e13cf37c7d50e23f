"""From an RSC Measurement to a contract sample: cadence units, the roster's pods, seq and odometer."""

import pytest

from footpod.contract import Sample
from footpod.roster import Roster
from ingest.gateway.distance import Odometer
from ingest.gateway.queue import PodState
from ingest.gateway.rsc import decode, encode
from ingest.gateway.samples import PodConfig, build_sample, cadence_spm, pods_from_roster

T0 = 1_780_000_000_000

# (raw cadence, the roster's unit, running, expected spm, warns): each row says why
CADENCE = [
    (86, "per_foot", True, 172.0, False),  # the spec's unit: the sensor foot, doubled
    (172, "both_feet", True, 172.0, False),  # a pod that counts both feet, as the roster says
    (172, "per_foot", True, 172.0, True),  # 344 spm is no runner: both feet, published as such, with a warning
    (120, "per_foot", True, 240.0, False),  # 240 is the top of a running cadence: no warning
    (125, "per_foot", True, 250.0, False),  # neither 250 nor 125 fits a runner: the roster's word stands
    (135, "per_foot", True, 135.0, True),  # 270 spm is beyond the contract: both feet, with a warning
    (86, "both_feet", True, 86.0, True),  # 86 spm while running: one foot
    (86, "both_feet", False, 86.0, False),  # walking: 86 spm is plausible, nothing to say
    (0, "per_foot", True, 0.0, False),  # standing still
]


@pytest.mark.parametrize(("raw", "unit", "running", "spm", "warns"), CADENCE)
def test_cadence_units_table(raw, unit, running, spm, warns):
    value, warning = cadence_spm(raw, unit, running)

    assert value == spm
    assert (warning is not None) == warns
    if warns:
        assert "cadence: both_feet" in warning if unit == "per_foot" else "cadence: per_foot" in warning


def test_the_roster_names_ble_pods_with_their_runner_and_unit_and_leaves_fit_serials_out():
    roster = Roster.model_validate(
        {
            "runners": {
                "alice": {"devices": {"c4:7a:0b:11:22:33": {"cadence": "both_feet"}, "3341889012": {}}},
                "bob": {"devices": {"D0:01:02:03:04:05": None}},
            }
        }
    )

    assert pods_from_roster(roster) == {
        "C4:7A:0B:11:22:33": PodConfig("C4:7A:0B:11:22:33", "alice", "both_feet"),
        "D0:01:02:03:04:05": PodConfig("D0:01:02:03:04:05", "bob", "per_foot"),
    }


def test_a_sample_is_what_the_bridge_accepts_with_the_pods_seq_and_odometer():
    pod = PodConfig("C4:7A:0B:11:22:33", "alice")
    state = PodState(41, Odometer(distance_m=1000.0, last_total_m=500.0, last_ts_ms=T0 - 1000))

    built = build_sample(pod, decode(encode(3.0, 86, total_distance_m=503.0)), T0, state)

    assert Sample.model_validate(built.sample).model_dump(exclude_none=True) == {
        "ts": T0,
        "device_id": "C4:7A:0B:11:22:33",
        "cadence_spm": 172.0,
        "distance_m": 1003.0,
        "speed_mps": 3.0,
        "seq": 41,
    }
    assert built.state.next_seq == 42 and built.state.odometer.distance_m == pytest.approx(1003.0)


def test_a_speed_beyond_the_contract_is_left_out_rather_than_losing_the_sample():
    built = build_sample(PodConfig("C4:7A:0B:11:22:33", "alice"), decode(encode(40.0, 80)), T0, PodState())

    assert "speed_mps" not in built.sample
    Sample.model_validate(built.sample)
