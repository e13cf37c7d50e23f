"""Every number the rules decide by, once, with where it comes from (RULES.md)."""

from footpod.load import DAY_MS  # noqa: F401  (the unit, defined once, for the rules)

MAX_WEEKLY_INCREASE = 0.10  # RULES.md §2 progression: +10 % a week at most (000, 001, 002, 003)
PROGRESSION_MIN_HISTORY_DAYS = 14  # RULES.md §2 progression (ours): a new runner's first weeks are not a progression
ACWR_ELEVATED = 1.3  # RULES.md §2: above the 0.8–1.3 "sweet spot" (Gabbett 2016)
ACWR_HIGH = 1.5  # RULES.md §2: highest injury risk above 1.5 (Gabbett 2016)
ACWR_MIN_HISTORY_DAYS = 28  # RULES.md §2 acwr rules: at least 28 days of history
CADENCE_LOW_SPM = 170.0  # RULES.md §4 cadence_low: below 170 spm is an ITBS risk factor (000, 002)

# RULES.md §2 budget: the factor on last week's distance each pain gate allows this week.
GATE_FACTORS = {
    "progress": 1.0 + MAX_WEEKLY_INCREASE,
    "continue_no_increase": 1.00,
    "hold": 1.00,
    "maintain": 1.00,
    "reduce_volume": 0.70,  # the smallest cut of "30–50 %"
    "stop_run": 0.0,
    "see_clinician": 0.0,
}


# RULES.md §3, the pain gate (000, "The 24-Hour Rule")
PAIN_MAINTAIN = 4  # pain 4: maintain
PAIN_REDUCE = 5  # "above 4/10 … reduce load and seek assessment"
NEXT_DAY_CHECK_HOURS = 20  # ours: a report this long after its run is the 24-hour check
GATE_MEMORY_DAYS = 7  # the gate is the most severe decision of the trailing 7 days
PHYSIO_MIN_DAYS = 3  # see_physio: pain on 3 or more days …
PHYSIO_SPAN_DAYS = 14  # … spread over 14 days or more (000: "2–3 weeks"; 002: "more than two weeks")
PHYSIO_WINDOW_DAYS = 28  # ours: how far back those days are looked for

# RULES.md §4, cadence
CADENCE_DROP_PCT = -5.0  # cadence_drop (ours): as large as one retraining step (000)
CADENCE_TARGET_PCT = (5.0, 10.0)  # cadence_target: +5–10 % over baseline (000 phase 3)

# RULES.md §5, return to run (000, "5-Phase Return to Running Protocol")
RTR_PHASE_START_WEEKS = {1: 1, 3: 3, 4: 5, 5: 9}  # ours: the source's week ranges overlap; each starts where the previous ends
RTR_PHASE1_MAX_SHARE = 0.50  # phase 1: week_km at most 50 % of normal
RTR_COMPLETE_WEEKS = 3  # phase 5: normal volume 3 weeks running, pain-free

# RULES.md §6, equipment and patterns (ours, from facts in 002 and 000)
SHOE_WEAR_KM = {"info": 480.0, "warning": 800.0}  # 002: support fades after 300–500 miles
PAIN_MILE_TOLERANCE = 0.15  # pain starting within ±15 % of the same distance …
PAIN_MILE_RUNS = 3  # … in 3 runs
