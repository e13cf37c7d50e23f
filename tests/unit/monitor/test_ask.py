"""`footpod-monitor status` reads a status the way a person would."""

from monitor.ask import describe_status

STATUS = {
    "runner": "alice",
    "team": "harriers",
    "as_of": "2026-11-25T07:41:00Z",
    "live": False,
    "week_km": 31.2,
    "prev_week_km": 26.4,
    "change_pct": 18.2,
    "acwr": 1.41,
    "acwr_ewma": 1.38,
    "budget_km": 0.0,
    "gate": "maintain",
    "gate_since": "2026-11-24T18:00:00Z",
    "cadence_baseline_spm": 168.0,
    "rtr_phase": "3",
    "last_run": {"run_id": "r1", "end": "2026-11-25T07:41:00Z", "km": 10.1, "cadence_spm": 171.0},
}
REPORT = {"time": 1_795_975_200_000, "score": 4, "timing": "after", "flags": ""}


def lines(status=STATUS, report=REPORT, alerts=(), earlier=()):
    return dict(describe_status(status, report, list(alerts), list(earlier)))


def test_the_week_is_read_against_the_budget_the_gate_allows():
    # maintain: the budget is last week's distance (26.4 km × 1.00)
    assert lines()["Week"].endswith("0.0 km left of the 26.4 km allowed")


def test_the_gate_says_what_to_do_and_which_report_set_it():
    assert lines()["Knee gate"].startswith("maintain this volume — set by pain 4/10 (after)")


def test_acwr_above_the_sweet_spot_is_called_so():
    assert "above the 0.8–1.3 sweet spot" in lines()["ACWR"]


def test_cadence_is_read_against_the_baseline():
    assert lines()["Cadence"] == "171 spm on the last run; baseline 168 spm (+1.8 %)"


def test_without_a_previous_week_there_is_no_budget_yet():
    status = {**STATUS, "prev_week_km": 0.0, "budget_km": None, "change_pct": None}
    assert "no budget yet" in lines(status)["Week"] and "Change" not in lines(status)


def test_recent_alerts_are_listed_and_their_absence_said():
    alert = {"time": 1_795_975_200_000, "severity": "warning", "rule": "progression", "message": "Hold."}
    assert lines(alerts=[alert])["Alert"].endswith("warning progression: Hold.")
    assert lines()["Alerts"] == "none in the last 7 days"


def test_alerts_of_older_history_are_shown_as_stored_not_sent():
    spring = {"time": 1_777_618_800_000, "severity": "warning", "rule": "progression", "message": "Hold."}
    shown = lines(earlier=[spring])
    assert shown["Earlier alert"].endswith("warning progression: Hold. (history: stored, not sent)")
    assert shown["Alerts"] == "none in the last 7 days"  # nothing recent: said so, then the history
    assert "Earlier alert" not in lines()
