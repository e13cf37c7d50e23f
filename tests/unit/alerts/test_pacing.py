"""The live-status pace, against a clock value."""

from alerts.pacing import AT_REST, HELD_GRACE, StatusPace

INTERVAL = 10.0
LIVE, FINAL = True, False


def test_the_first_live_status_goes_at_once():
    _, due = StatusPace().offer(LIVE, now_s=100.0, interval_s=INTERVAL)
    assert due


def test_a_live_status_within_the_interval_is_held_back():
    pace, _ = StatusPace().offer(LIVE, now_s=100.0, interval_s=INTERVAL)
    pace, due = pace.offer(LIVE, now_s=105.0, interval_s=INTERVAL)
    pace, due_again = pace.offer(LIVE, now_s=109.9, interval_s=INTERVAL)
    assert not due and not due_again
    assert pace.held and pace.last_live_s == 100.0


def test_a_held_status_is_released_once_the_interval_and_its_grace_have_passed_and_not_before():
    pace, _ = StatusPace().offer(LIVE, now_s=100.0, interval_s=INTERVAL)
    pace, _ = pace.offer(LIVE, now_s=101.0, interval_s=INTERVAL)
    early_pace, early = pace.release(now_s=110.0 + HELD_GRACE * INTERVAL - 0.1, interval_s=INTERVAL)
    late_pace, late = pace.release(now_s=110.0 + HELD_GRACE * INTERVAL, interval_s=INTERVAL)
    assert not early and early_pace.held
    assert late and not late_pace.held and late_pace.last_live_s == 110.0 + HELD_GRACE * INTERVAL
    assert late_pace.release(now_s=200.0, interval_s=INTERVAL)[1] is False  # released once


def test_a_runner_still_sending_at_its_turn_gets_the_newer_status_not_the_held_one():
    pace, _ = StatusPace().offer(LIVE, now_s=100.0, interval_s=INTERVAL)
    pace, _ = pace.offer(LIVE, now_s=109.5, interval_s=INTERVAL)
    pace, timer = pace.release(now_s=110.2, interval_s=INTERVAL)  # the once-a-second look, at its turn
    pace, due = pace.offer(LIVE, now_s=110.5, interval_s=INTERVAL)  # the next sample's
    assert not timer and due and not pace.held


def test_a_final_status_goes_at_once_and_drops_the_held_live_one():
    pace, _ = StatusPace().offer(LIVE, now_s=100.0, interval_s=INTERVAL)
    pace, _ = pace.offer(LIVE, now_s=101.0, interval_s=INTERVAL)
    pace, due = pace.offer(FINAL, now_s=102.0, interval_s=INTERVAL)
    assert due and not pace.held
    assert pace.release(now_s=200.0, interval_s=INTERVAL)[1] is False


def test_a_live_status_with_a_new_alert_goes_at_once():
    pace, _ = StatusPace().offer(LIVE, now_s=100.0, interval_s=INTERVAL)
    _, due = pace.offer(LIVE, now_s=101.0, interval_s=INTERVAL, urgent=True)
    assert due


def test_runners_at_rest_share_one_pace_that_paces_as_a_new_one():
    live_pace, _ = StatusPace().offer(LIVE, now_s=100.0, interval_s=INTERVAL)
    rest_pace, due = live_pace.offer(FINAL, now_s=101.0, interval_s=INTERVAL)
    assert due and rest_pace is AT_REST
    assert (AT_REST.last_live_s, AT_REST.held) == (StatusPace().last_live_s, StatusPace().held) == (None, False)
    for fresh in (StatusPace(), AT_REST):  # the next live status goes at once, the one after is held
        pace, first = fresh.offer(LIVE, now_s=102.0, interval_s=INTERVAL)
        pace, second = pace.offer(LIVE, now_s=103.0, interval_s=INTERVAL)
        assert first and not second and pace.held
    assert not AT_REST.held and AT_REST.last_live_s is None  # offering never changes it
