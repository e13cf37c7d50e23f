"""Every number the rules decide by, once, with where it comes from (RULES.md)."""

from typing import Literal, get_args

from footpod.contract import Severity
from footpod.load import DAY_MS  # noqa: F401  (the unit, defined once, for the rules)

MAX_WEEKLY_INCREASE = 0.10  # RULES.md §2 progression: +10 % a week at most (000, 001, 002, 003)
PROGRESSION_MIN_HISTORY_DAYS = 14  # RULES.md §2 progression (ours): a new runner's first weeks are not a progression
ACWR_ELEVATED = 1.3  # RULES.md §2: above the 0.8–1.3 "sweet spot" (Gabbett 2016)
ACWR_HIGH = 1.5  # RULES.md §2: highest injury risk above 1.5 (Gabbett 2016)
ACWR_MIN_HISTORY_DAYS = 28  # RULES.md §2 acwr rules: at least 28 days of history
# RULES.md §2 acwr rules (ours, default of FOOTPOD_ACWR_MIN_CHRONIC_KM): km a week, a near-empty month is a break
ACWR_MIN_CHRONIC_WEEK_KM = 5.0
CADENCE_LOW_SPM = 170.0  # RULES.md §4 cadence_low: below 170 spm is an ITBS risk factor (000, 002)

# RULES.md §3 pain gate, least to most severe: the one list of gate names.
GateName = Literal["progress", "continue_no_increase", "maintain", "reduce_volume", "stop_run", "see_clinician"]
GATES: tuple[GateName, ...] = get_args(GateName)

# RULES.md §2 budget: the factor each pain gate allows on the reference week (§3 table "factor").
GATE_FACTORS: dict[GateName, float] = {
    "progress": 1.0 + MAX_WEEKLY_INCREASE,
    "continue_no_increase": 1.00,
    "maintain": 1.00,
    "reduce_volume": 0.70,  # the smallest cut of "30–50 %", once, on the week before the gate was set
    "stop_run": 0.0,
    "see_clinician": 0.0,
}

# RULES.md §3 table "severity": how loud the alert of each gate is.
GATE_SEVERITY: dict[GateName, Severity] = {
    "progress": "info",
    "continue_no_increase": "info",
    "maintain": "warning",
    "reduce_volume": "warning",
    "stop_run": "critical",
    "see_clinician": "critical",
}

# RULES.md §3, the pain gate (000, "The 24-Hour Rule")
PAIN_MAINTAIN = 4  # pain 4: maintain
PAIN_REDUCE = 5  # "above 4/10 … reduce load and seek assessment"
NEXT_DAY_CHECK_HOURS = 20  # ours: a report this long after its run is the 24-hour check
GATE_HOLD_DAYS = 7  # every decision holds at least 7 days ("do not increase load this week")
CLEAR_AFTER_HOURS = 24  # a severe gate lifts on a clear report at least 24 h after the decision
PHYSIO_MIN_DAYS = 3  # see_physio: pain on 3 or more days …
PHYSIO_SPAN_DAYS = 14  # … spread over 14 days or more (000: "2–3 weeks"; 002: "more than two weeks")
PHYSIO_WINDOW_DAYS = 28  # ours: how far back those days are looked for
# ours (RULES.md §3 arrival order): decide a report once no sample of its runner arrived for this long …
PAIN_SETTLE_S = 30.0
PAIN_SETTLE_MAX_S = 120.0  # … and at the latest this long after the report arrived

# RULES.md §4, cadence
CADENCE_DROP_PCT = -5.0  # cadence_drop (ours): as large as one retraining step (000)
CADENCE_TARGET_PCT = (5.0, 10.0)  # cadence_target: +5–10 % over baseline (000 phase 3)

# RULES.md §5, return to run (000, "5-Phase Return to Running Protocol"): weeks each phase applies,
# first and last (None: no end); the ranges overlap as in the source. Phase 2 (strength) is not measured.
RTR_PHASE_WEEKS: dict[int, tuple[int, int | None]] = {1: (1, 2), 3: (2, 6), 4: (4, 8), 5: (8, None)}
RTR_PHASE1_MAX_SHARE = 0.50  # phase 1: week_km at most 50 % of normal
RTR_COMPLETE_WEEKS = 3  # phase 5: normal volume 3 weeks running, pain-free

# RULES.md §6, equipment and patterns (ours, from facts in 002 and 000)
SHOE_WEAR_KM = {"info": 480.0, "warning": 800.0}  # 002: support fades after 300–500 miles
PAIN_MILE_TOLERANCE = 0.15  # pain starting within ±15 % of the onsets' median distance …
PAIN_MILE_RUNS = 3  # … in 3 runs …
PAIN_MILE_WINDOW_DAYS = 28  # … of the trailing 28 days

# RULES.md §7 alert hygiene (ours, default of FOOTPOD_PUSH_WITHIN_DAYS): alerts up to this many days
# late are still published; older ones (imported history) are stored and shown by `status` only
PUSH_WITHIN_DAYS = 7.0
