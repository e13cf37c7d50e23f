"""Red flags (RULES.md §3 see_clinician, CONTRACT.md `flags`): one definition, used by the bridge and the rules."""

import json

import pytest

from alerts.rules.pain_gate import decision_of
from footpod.contract import RED_FLAGS, PainReport
from ingest.validate import judge

NOW = 1_764_000_000_000


@pytest.mark.parametrize("flag", ["trauma", "worse_at_rest", "systemic", "sharp_pain"])
def test_the_bridge_accepts_the_new_red_flags_and_the_gate_sends_the_runner_to_a_clinician(flag):
    # new in RULES.md §3 (004: severe pain after trauma, pain despite rest, fever/weight loss/rash/infection;
    # 002, 004: sharp, stabbing pain)
    verdict = judge("footpod/alice/pain", json.dumps({"ts": NOW, "score": 3, "flags": [flag]}).encode(), NOW, 300_000)
    assert verdict.rejects == [] and verdict.pain.report.flags == (flag,)
    assert decision_of(verdict.pain.report, "after") == "see_clinician"


def test_a_flag_outside_the_one_list_is_dead_lettered():
    verdict = judge(
        "footpod/alice/pain", json.dumps({"ts": NOW, "score": 3, "flags": ["itchy"]}).encode(), NOW, 300_000
    )
    assert verdict.pain is None and len(verdict.rejects) == 1


def test_the_list_is_the_contract_list():
    # CONTRACT.md `flags`, in its order
    assert RED_FLAGS == (
        "swelling",
        "locking",
        "giving_way",
        "instability",
        "cannot_bear_weight",
        "night_pain",
        "deformity",
        "trauma",
        "worse_at_rest",
        "systemic",
        "sharp_pain",
    )
    assert PainReport.model_fields["flags"].annotation.__args__[0].__args__ == RED_FLAGS
