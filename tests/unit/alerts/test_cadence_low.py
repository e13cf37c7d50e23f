"""`cadence_low`: a finished run below 170 spm (RULES.md §4)."""

import re

import pytest

from alerts.rules.cadence import cadence_low
from tests.unit.builders import a_load, a_run, an_evaluation

NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def evaluation(cadence=165.0, baseline=None, live=False, as_of=NOW):
    """A 5 km run ending at `as_of`, with an unremarkable load."""
    return an_evaluation(
        a_run(as_of, minutes=30, cadence=cadence), a_load(as_of, 20.0, 20.0, acwr=1.0), baseline=baseline, live=live
    )


@pytest.mark.parametrize(
    "cadence, live, fires",
    [
        (169.9, False, True),  # just below 170 spm
        (150.0, False, True),  # well below
        (170.0, False, False),  # exactly 170 is not below
        (178.0, False, False),  # in the 170–180 range
        (160.0, True, False),  # a live run: decided when it has ended
        (None, False, False),  # no cadence (a walk: no running samples)
    ],
    ids=["cadence_169.9", "cadence_150", "exactly_170", "cadence_178", "live_run", "no_cadence_walk"],
)
def test_cadence_low_suggests_raising_cadence_on_finished_runs_below_170(cadence, live, fires):
    decisions = cadence_low(evaluation(cadence=cadence, live=live))
    assert [(d.rule, d.severity, d.action) for d in decisions] == (
        [("cadence_low", "info", "raise_cadence")] if fires else []
    )


@pytest.mark.parametrize(
    "cadence, baseline, low, high",
    [
        (165.0, 160.0, 168, 176),  # +5..+10 % of the runner's baseline
        (165.0, 180.0, 189, 198),  # a baseline above this run: still relative to the baseline
        (160.0, None, 168, 176),  # no baseline yet: relative to this run's cadence
    ],
    ids=["baseline_160", "baseline_180", "no_baseline_uses_run"],
)
def test_cadence_low_target_is_five_to_ten_percent_over_the_baseline(cadence, baseline, low, high):
    (decision,) = cadence_low(evaluation(cadence=cadence, baseline=baseline))
    assert (decision.details["target_low_spm"], decision.details["target_high_spm"]) == (low, high)
    assert f"{low}-{high} spm" in decision.message


def test_cadence_low_carries_the_run_its_cadence_and_its_end_time():
    (decision,) = cadence_low(evaluation(cadence=162.34, as_of=NOW + 500))
    assert decision.details["cadence_spm"] == 162.3
    assert decision.details["run_id"] == "run-1"
    assert decision.ts_ms == NOW + 500


def test_cadence_low_message_never_states_a_cadence_of_170_or_more():
    # 169.9 rounded to a whole number would read "170 steps per minute, below 170".
    (decision,) = cadence_low(evaluation(cadence=169.9))
    stated = float(re.search(r"was ([\d.]+) steps per minute", decision.message).group(1))
    assert stated < 170
