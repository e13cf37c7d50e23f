"""Every number the rules decide by, once, with where it comes from (RULES.md)."""

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
