"""The live-status pace, against a clock value."""

from alerts.pacing import AT_REST, HELD_GRACE, StatusPace
from footpod.contract import LastRun, Status

INTERVAL = 10.0


def status(live: bool, km: float = 1.0) -> Status:
    return Status(
        runner="alice",
        team="t",
        as_of="2025-10-01T10:00:00.000Z",
        live=live,
        week_km=km,
        prev_week_km=0.0,
        change_pct=None,
        acwr=None,
        budget_km=None,
        gate="progress",
        cadence_baseline_spm=None,
        last_run=LastRun(run_id="r", end="2025-10-01T10:00:00.000Z", km=km, cadence_spm=None),
    )


def test_the_first_live_status_goes_at_once():
    _, published = StatusPace().offer(status(True), now_s=100.0, interval_s=INTERVAL)
    assert published is not None


def test_a_live_status_within_the_interval_is_held_back_as_the_latest():
    pace, _ = StatusPace().offer(status(True, 1.0), now_s=100.0, interval_s=INTERVAL)
    pace, published = pace.offer(status(True, 2.0), now_s=105.0, interval_s=INTERVAL)
    pace, published_again = pace.offer(status(True, 3.0), now_s=109.9, interval_s=INTERVAL)
    assert published is None and published_again is None
    assert pace.held.week_km == 3.0


def test_a_held_status_is_released_once_the_interval_and_its_grace_have_passed_and_not_before():
    pace, _ = StatusPace().offer(status(True, 1.0), now_s=100.0, interval_s=INTERVAL)
    pace, _ = pace.offer(status(True, 2.0), now_s=101.0, interval_s=INTERVAL)
    early_pace, early = pace.release(now_s=110.0 + HELD_GRACE * INTERVAL - 0.1, interval_s=INTERVAL)
    late_pace, late = pace.release(now_s=110.0 + HELD_GRACE * INTERVAL, interval_s=INTERVAL)
    assert early is None and early_pace.held is not None
    assert late.week_km == 2.0 and late_pace.held is None and late_pace.last_live_s == 110.0 + HELD_GRACE * INTERVAL


def test_a_runner_still_sending_at_its_turn_gets_the_newer_status_not_the_held_one():
    pace, _ = StatusPace().offer(status(True, 1.0), now_s=100.0, interval_s=INTERVAL)
    pace, _ = pace.offer(status(True, 2.0), now_s=109.5, interval_s=INTERVAL)
    pace, timer = pace.release(now_s=110.2, interval_s=INTERVAL)  # the once-a-second look, at its turn
    pace, published = pace.offer(status(True, 3.0), now_s=110.5, interval_s=INTERVAL)  # the next sample's
    assert timer is None and published.week_km == 3.0 and pace.held is None


def test_a_final_status_goes_at_once_and_drops_the_held_live_one():
    pace, _ = StatusPace().offer(status(True), now_s=100.0, interval_s=INTERVAL)
    pace, _ = pace.offer(status(True), now_s=101.0, interval_s=INTERVAL)
    pace, published = pace.offer(status(False, 5.0), now_s=102.0, interval_s=INTERVAL)
    assert published.week_km == 5.0 and pace.held is None
    assert pace.release(now_s=200.0, interval_s=INTERVAL)[1] is None


def test_a_live_status_with_a_new_alert_goes_at_once():
    pace, _ = StatusPace().offer(status(True), now_s=100.0, interval_s=INTERVAL)
    _, published = pace.offer(status(True, 7.0), now_s=101.0, interval_s=INTERVAL, urgent=True)
    assert published.week_km == 7.0


def test_runners_at_rest_share_one_pace_that_paces_as_a_new_one():
    live_pace, _ = StatusPace().offer(status(True), now_s=100.0, interval_s=INTERVAL)
    rest_pace, published = live_pace.offer(status(False), now_s=101.0, interval_s=INTERVAL)
    assert published is not None and rest_pace is AT_REST
    assert (AT_REST.last_live_s, AT_REST.held) == (StatusPace().last_live_s, StatusPace().held) == (None, None)
    for fresh in (StatusPace(), AT_REST):  # the next live status goes at once, the one after is held
        pace, first = fresh.offer(status(True, 1.0), now_s=102.0, interval_s=INTERVAL)
        pace, second = pace.offer(status(True, 2.0), now_s=103.0, interval_s=INTERVAL)
        assert first.week_km == 1.0 and second is None and pace.held.week_km == 2.0
    assert AT_REST.held is None and AT_REST.last_live_s is None  # offering never changes it
