"""Notifications (`alerts.notify`): who gets an alert, what it reads, and the outbox's once-only delivery."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.notify import (
    TITLES,
    Answer,
    Notifier,
    Outbox,
    backoff_s,
    body_of,
    daily_key,
    daily_line,
    send_test,
    title_of,
)
from footpod.contract import Alert, Status
from footpod.roster import Roster, RosterFile
from footpod.settings import Settings

RULES_MD = Path(__file__).resolve().parents[3] / "docs" / "RULES.md"
COACH = "mailto://coach:secret@mail.example.org?to=coach@example.org"
ALICE = "ntfys://ntfy.example.org/alice"
HOOK = "json://hooks.example.org/harriers"


def alert(rule="budget_reached", severity="info", runner="alice", team="harriers", id_="a1"):
    return Alert(
        id=id_,
        runner=runner,
        team=team,
        ts="2026-11-24T07:41:00Z",
        rule=rule,
        severity=severity,
        action="end_run",
        message="You have run 11.7 km in the last 7 days, past this week's limit of "
        "11.0 km. Ease off and finish this run now.",
        details={"week_km": 11.7, "allowed_week_km": 11.0},
    )


ROSTER = Roster.model_validate(
    {
        "teams": {"harriers": {"notify": [COACH, {"url": HOOK, "min_severity": "critical"}]}},
        "runners": {"alice": {"team": "harriers", "notify": [ALICE, {"url": COACH}]}, "bob": {"team": "harriers"}},
    }
)


class FixedRoster(RosterFile):
    def __init__(self, roster: Roster):
        self._roster = roster

    @property
    def current(self) -> Roster:
        return self._roster


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


class Target:
    """A fake target: answers from a script (True = OK), records what it accepted."""

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.accepted: list[tuple[str, str, str]] = []
        self.tries = 0

    def __call__(self, url, title, body, notify_type):
        self.tries += 1
        ok = self.answers.pop(0) if self.answers else True
        if ok == "permanent":
            return Answer(False, "not a URL Apprise can send to", permanent=True)
        if ok:
            self.accepted.append((url, title, body))
            return Answer(True)
        return Answer(False, "Internal server error., error=500.")


def notifier(tmp_path, send, clock=None, roster=ROSTER, **settings):
    values = {
        "notify_outbox": tmp_path / "outbox.sqlite",
        "notify_backoff_s": 5.0,
        "notify_backoff_max_s": 60.0,
        "notify_retry_for_s": 3600.0,
        **settings,
    }
    return Notifier(Settings(**values), FixedRoster(roster), send=send, clock=clock or Clock())


# --- what a lock screen shows ---------------------------------------------------------------------


def test_the_title_is_the_rule_in_words():
    assert title_of(alert("budget_reached")) == "Weekly budget reached"
    assert title_of(alert("red_flag", "critical")) == "Knee red flag: see a clinician"


def test_a_rule_without_a_title_reads_as_its_name():
    assert title_of(alert("new_rule")) == "New rule"


def test_every_rule_in_rules_md_has_a_title():
    text = RULES_MD.read_text()
    missing = [
        rule
        for rule in (
            "progression",
            "acwr_elevated",
            "acwr_high",
            "budget_reached",
            "pain_gate",
            "red_flag",
            "see_physio",
            "cadence_low",
            "cadence_drop",
            "cadence_target",
            "rtr_over_limit",
            "rtr_complete",
            "shoe_wear",
            "pain_mile",
        )
        if f"`{rule}`" in text and rule not in TITLES
    ]
    assert missing == []


def test_the_body_is_the_message_with_its_numbers_then_whose_and_when():
    lines = body_of(alert()).splitlines()
    assert lines[0].startswith("You have run 11.7 km") and "11.0 km" in lines[0]
    assert lines[1] == "alice (harriers), Tue 24 Nov 07:41 UTC"


@pytest.mark.parametrize(
    "budget, allowed, expected",
    [
        (12.4, 23.0, "Tuesday: 12.4 of 23.0 km left this week; knee gate: progress"),
        (0.0, 11.0, "Tuesday: 0.0 of 11.0 km left this week; knee gate: progress"),  # used up
        (None, None, "Tuesday: 10.6 km in the last 7 days; knee gate: progress"),  # too little history for a budget
    ],
)
def test_the_daily_line_says_what_is_left_of_the_week(budget, allowed, expected):
    status = Status(
        runner="alice",
        team="harriers",
        as_of="2026-11-24T06:00:00Z",
        week_km=10.6,
        prev_week_km=20.9,
        change_pct=None,
        acwr=None,
        budget_km=budget,
        gate="progress",
        cadence_baseline_spm=None,
        last_run=None,
    )
    assert daily_line(status, allowed) == expected


def test_the_daily_message_has_one_key_a_day_from_its_hour():
    at = lambda text: int(__import__("datetime").datetime.fromisoformat(text).timestamp() * 1000)  # noqa: E731
    assert daily_key("alice", at("2026-11-24T05:59:59+00:00"), 6) is None  # before the hour: not yet
    assert daily_key("alice", at("2026-11-24T06:00:00+00:00"), 6) == "daily:alice:2026-11-24"
    assert daily_key("alice", at("2026-11-24T23:00:00+00:00"), 6) == "daily:alice:2026-11-24"  # same day, same key


# --- who gets what --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "severity, expected",
    [
        ("info", [ALICE, COACH]),  # the runner's targets default to info; the coach's URL is listed by alice too
        ("warning", [ALICE, COACH]),
        ("critical", [ALICE, COACH, HOOK]),  # the team hook only takes critical
    ],
)
def test_an_alert_goes_to_the_targets_that_take_its_severity_once_per_url(tmp_path, severity, expected):
    outbox = tmp_path / "outbox.sqlite"
    notify = notifier(tmp_path, Target())
    notify.offer(alert(severity=severity))
    rows = Outbox(outbox).due(now=2e9)
    assert sorted(row.url for row in rows) == sorted(expected)


def test_a_team_target_defaults_to_warning_and_above(tmp_path):
    target = Target()
    notify = notifier(tmp_path, target)
    assert notify.offer(alert(runner="bob", severity="info", id_="b-info")) == 0
    assert notify.offer(alert(runner="bob", severity="warning", id_="b-warn")) == 1
    notify.deliver_due(Outbox(tmp_path / "outbox.sqlite"))
    assert [url for url, *_ in target.accepted] == [COACH]


def test_the_test_message_goes_to_every_target_and_reports_each_answer():
    target = Target([True, False, True])
    results = send_test(ROSTER, "alice", send=target)
    assert [(owner, answer.ok) for owner, _, _, answer in results] == [
        ("alice", True),
        ("alice", False),
        ("team harriers", True),
    ]
    assert "secret" not in " ".join(url for _, url, _, _ in results)  # secrets masked for the table


# --- the outbox -----------------------------------------------------------------------------------


def test_an_alert_offered_again_is_sent_once(tmp_path):
    target = Target()
    notify = notifier(tmp_path, target)
    assert notify.offer(alert()) == 2
    assert notify.offer(alert()) == 0  # a re-evaluation, or a restart that republishes
    outbox = Outbox(tmp_path / "outbox.sqlite")
    assert notify.deliver_due(outbox) == 2
    assert notify.deliver_due(outbox) == 0
    assert notify.offer(alert()) == 0  # delivered ones are remembered too
    assert sorted(url for url, *_ in target.accepted) == sorted([ALICE, COACH])
    assert {(title, body) for _, title, body in target.accepted} == {(title_of(alert()), body_of(alert()))}


def test_a_failing_target_is_retried_with_doubling_waits_then_delivered_once(tmp_path):
    clock = Clock()
    target = Target([False, False, False, True])
    roster = Roster.model_validate({"runners": {"alice": {"notify": [ALICE]}}})
    notify = notifier(tmp_path, target, clock, roster=roster)
    notify.offer(alert())
    outbox = Outbox(tmp_path / "outbox.sqlite")
    waits = []
    while not target.accepted:
        notify.deliver_due(outbox)
        next_try = outbox.next_try()
        waits.append(None if next_try is None else next_try - clock.now)
        if next_try is not None:
            tries = target.tries
            clock.now += 0.5
            notify.deliver_due(outbox)
            assert target.tries == tries  # not tried again before its wait is over
            clock.now = next_try
    assert waits == [5.0, 10.0, 20.0, None]
    assert target.tries == 4 and len(target.accepted) == 1
    assert outbox.counts() == {"delivered": 1}


def test_a_target_down_past_the_retry_period_is_dead_lettered_with_the_reason(tmp_path):
    clock = Clock()
    target = Target([False] * 1000)
    notify = notifier(tmp_path, target, clock, notify_retry_for_s=600.0)
    notify.offer(alert())
    outbox = Outbox(tmp_path / "outbox.sqlite")
    while outbox.next_try() is not None:
        clock.now = max(clock.now, outbox.next_try())
        notify.deliver_due(outbox)
    assert outbox.counts() == {"dead": 2}
    reasons = {row[0] for row in outbox.db.execute("SELECT reason FROM outbox")}
    assert reasons == {"Internal server error., error=500."}
    assert clock.now - 1_000_000.0 >= 600.0  # not given up before the retry period


def test_a_url_apprise_cannot_use_is_dead_lettered_at_once(tmp_path):
    target = Target(["permanent", True])
    notify = notifier(tmp_path, target)
    notify.offer(alert())
    outbox = Outbox(tmp_path / "outbox.sqlite")
    notify.deliver_due(outbox)
    assert outbox.counts() == {"dead": 1, "delivered": 1}


def test_a_target_that_fails_does_not_hold_up_another(tmp_path):
    clock = Clock()
    answers = {ALICE: [False, False, False], COACH: []}

    def send(url, title, body, notify_type):
        ok = answers[url].pop(0) if answers[url] else True
        return Answer(ok, "OK" if ok else "down")

    notify = notifier(tmp_path, send, clock)
    for n in range(3):
        notify.offer(alert(id_=f"a{n}"))
    outbox = Outbox(tmp_path / "outbox.sqlite")
    assert notify.deliver_due(outbox) == 3  # the coach gets all three while alice's target is down
    assert answers[ALICE] == [False, False]  # one try per pass for a failing target, not one per alert


def test_pending_rows_survive_a_restart_of_the_worker(tmp_path):
    clock = Clock()
    notify = notifier(tmp_path, Target([False, False]), clock)
    notify.offer(alert())
    notify.deliver_due(Outbox(tmp_path / "outbox.sqlite"))
    # a new process: a new notifier over the same file
    target = Target()
    restarted = notifier(tmp_path, target, clock)
    clock.now += 3600
    assert restarted.deliver_due(Outbox(tmp_path / "outbox.sqlite")) == 2
    assert restarted.offer(alert()) == 0


@given(attempts=st.integers(min_value=1, max_value=10_000), first=st.floats(0.1, 100), cap=st.floats(1, 10_000))
def test_backoff_doubles_from_the_first_wait_and_never_passes_the_cap(attempts, first, cap):
    wait = backoff_s(attempts, first, cap)
    assert backoff_s(1, first, cap) == min(first, cap)
    assert wait <= cap
    assert backoff_s(attempts + 1, first, cap) == min(cap, 2 * wait)


def test_an_outbox_that_fails_is_logged_and_never_raised_into_the_pipeline(tmp_path, caplog):
    (tmp_path / "outbox.sqlite").mkdir()  # a directory where the file should be: SQLite cannot open it
    notify = notifier(tmp_path, Target())
    assert notify.offer(alert()) == 0
    assert "a1 not queued" in caplog.text


SEVERITIES = ("info", "warning", "critical")
urls_st = st.sampled_from([ALICE, COACH, HOOK, "tgram://bot/chat"])
target_st = st.one_of(
    urls_st, st.builds(lambda url, sev: {"url": url, "min_severity": sev}, urls_st, st.sampled_from(SEVERITIES))
)


@given(
    runner_targets=st.lists(target_st, max_size=4),
    team_targets=st.lists(target_st, max_size=4),
    severity=st.sampled_from(SEVERITIES),
)
def test_an_alert_reaches_each_url_at_most_once_and_only_where_its_severity_is_taken(
    runner_targets, team_targets, severity
):
    from alerts.notify import alert_targets

    roster = Roster.model_validate(
        {
            "teams": {"harriers": {"notify": team_targets}},
            "runners": {"alice": {"team": "harriers", "notify": runner_targets}},
        }
    )
    urls = alert_targets(roster, alert(severity=severity))
    assert len(urls) == len(set(urls))
    # the first listing of a URL decides (the runner's before the team's), with the owner's default
    first = {}
    for targets, default in ((runner_targets, "info"), (team_targets, "warning")):
        for target in targets:
            url, min_sev = (target, default) if isinstance(target, str) else (target["url"], target["min_severity"])
            first.setdefault(url, min_sev)
    assert set(urls) == {
        url for url, min_sev in first.items() if SEVERITIES.index(severity) >= SEVERITIES.index(min_sev)
    }


def test_delivered_rows_are_forgotten_after_their_keep_time_pending_and_dead_ones_never(tmp_path):
    answers = {ALICE: Answer(True), COACH: Answer(False, "bad URL", permanent=True), HOOK: Answer(False, "down")}
    clock = Clock()
    notify = notifier(tmp_path, lambda url, *_: answers[url], clock)
    notify.offer(alert(severity="critical"))  # alice's target delivers, the coach's URL is dead, the hook is down
    outbox = Outbox(tmp_path / "outbox.sqlite")
    notify.deliver_due(outbox)
    assert outbox.counts() == {"delivered": 1, "dead": 1, "pending": 1}
    assert outbox.prune(before=clock.now - 1) == 0  # delivered just now: kept
    assert outbox.prune(before=clock.now + 1) == 1
    assert outbox.counts() == {"dead": 1, "pending": 1}


def test_a_url_apprise_does_not_know_is_a_permanent_failure_before_any_connection():
    from alerts.notify import apprise_send

    answer = apprise_send("nosuchscheme://example.org/x", "t", "b", "info")
    assert (answer.ok, answer.permanent) == (False, True)
