"""The roster: its schema, errors that point at a file line, and edits picked up while running."""

import logging
import os
from datetime import date
from pathlib import Path
from textwrap import dedent

import pytest

from footpod.errors import RosterError
from footpod.roster import UNASSIGNED, Roster, RosterFile, load_roster

REPO_ROOT = Path(__file__).resolve().parents[3]

FULL_ROSTER = """\
runners:
  alice:
    team: harriers
    baseline_cadence_spm: 168
    cadence_retraining: true
    return_to_run:
      start: 2026-01-05
      normal_week_km: 32.5
    shoes:
      pod-1: 0
      "C7:21:0A:9E": 412.5
  bob.smith:
    team: striders
  carol:
"""


class ManualClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def write_roster(path: Path, text: str) -> Path:
    """Write the roster and move its mtime a second on, so every write is a visible change."""
    previous_ns = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(dedent(text))
    later_ns = max(path.stat().st_mtime_ns, previous_ns + 1_000_000_000)
    os.utime(path, ns=(later_ns, later_ns))
    return path


@pytest.fixture
def roster_path(tmp_path: Path) -> Path:
    return tmp_path / "roster.yaml"


# ---------------------------------------------------------------------------- schema


def test_a_full_roster_parses_into_its_entries(roster_path):
    roster = load_roster(write_roster(roster_path, FULL_ROSTER))

    alice = roster.entry("alice")
    assert alice.team == "harriers"
    assert alice.baseline_cadence_spm == 168
    assert alice.cadence_retraining is True
    assert alice.return_to_run.start == date(2026, 1, 5)
    assert alice.return_to_run.normal_week_km == 32.5
    assert alice.shoes == {"pod-1": 0.0, "C7:21:0A:9E": 412.5}
    assert roster.team_of("bob.smith") == "striders"


def test_a_runner_listed_without_settings_gets_the_defaults(roster_path):
    carol = load_roster(write_roster(roster_path, FULL_ROSTER)).entry("carol")

    assert carol.team == UNASSIGNED
    assert carol.baseline_cadence_spm is None
    assert carol.cadence_retraining is False
    assert carol.return_to_run is None
    assert carol.shoes == {}


def test_a_runner_missing_from_the_roster_is_unassigned(roster_path):
    roster = load_roster(write_roster(roster_path, FULL_ROSTER))

    assert roster.team_of("zoe") == UNASSIGNED
    assert roster.entry("zoe").team == UNASSIGNED
    assert roster.runners.get("zoe") is None


def test_no_roster_path_leaves_every_runner_unassigned():
    assert load_roster(None) == Roster()
    assert RosterFile(None).current.team_of("alice") == UNASSIGNED


def test_an_empty_roster_file_lists_no_runners(roster_path):
    assert load_roster(write_roster(roster_path, "# nobody yet\n")).runners == {}


def test_notify_targets_take_plain_urls_and_default_by_owner(roster_path):
    roster = load_roster(
        write_roster(
            roster_path,
            """\
        teams:
          harriers:
            notify:
              - "mailto://coach:secret@mail.example.org?to=coach@example.org"
              - {url: "json://hooks.example.org/h", min_severity: critical}
        runners:
          alice:
            team: harriers
            notify: ["ntfys://ntfy.example.org/alice", {url: "json://phone.example.org/a", daily_status: true}]
        """,
        )
    )

    alice = roster.entry("alice").notify
    assert [(t.url, t.min_severity, t.daily_status) for t in alice] == [
        ("ntfys://ntfy.example.org/alice", "info", False),  # a runner's plain URL: info and above
        ("json://phone.example.org/a", "info", True),
    ]
    team = roster.team_targets("harriers")
    assert [(t.min_severity, t.daily_status) for t in team] == [("warning", False), ("critical", False)]
    assert roster.team_targets("striders") == []  # a team the roster does not list has none
    assert roster.entry("zoe").notify == ()


def test_the_example_roster_in_deploy_is_valid():
    roster = load_roster(REPO_ROOT / "deploy" / "roster.example.yaml")

    assert roster.runners, "the example lists at least one runner"


# ---------------------------------------------------------------------------- errors

INVALID_ROSTERS = [
    # (yaml, line, field, what is wrong)
    pytest.param(
        """\
        runners:
          bob:
            return_to_run:
              start: 2026-01-05
              normal_week_km: 0
        """,
        5,
        "runners.bob.return_to_run.normal_week_km",
        "Input should be greater than 0",
        id="a value out of range two levels down points at its own line",
    ),
    pytest.param(
        """\
        runners:
          bob:
            shoes:
              pod-1: lots
        """,
        4,
        "runners.bob.shoes.pod-1",
        "Input should be a valid number",
        id="a value of the wrong type two levels down points at its own line",
    ),
    pytest.param(
        """\
        runners:
          alice:
            team: harriers
            baseline_cadence: 170
        """,
        4,
        "runners.alice.baseline_cadence",
        "Extra inputs are not permitted",
        id="an unknown key points at that key",
    ),
    pytest.param(
        """\
        runners:
          alice:
            team: harriers
          bob smith:
            team: harriers
        """,
        4,
        "runners.bob smith (name)",
        "String should match pattern",
        id="a runner name outside [A-Za-z0-9_.-] points at the name",
    ),
    pytest.param(
        """\
        runners:
          alice:
            shoes:
              "pod/1": 10
        """,
        4,
        "runners.alice.shoes.pod/1 (name)",
        "String should match pattern",
        id="a device id outside the contract's pattern points at the id",
    ),
    pytest.param(
        """\
        runners:
          alice:
            return_to_run:
              start: 2026-01-05
        """,
        3,
        "runners.alice.return_to_run.normal_week_km",
        "Field required",
        id="a missing field points at the key that should hold it",
    ),
    pytest.param(
        """\
        runners:
          alice:
            return_to_run: {start: 2026-02-30, normal_week_km: 30}
        """,
        3,
        "runners.alice.return_to_run.start",
        "Input should be a valid date",
        id="an impossible date is a field error, not a crash",
    ),
    pytest.param(
        """\
        runners:
          alice:
            baseline_cadence_spm: 90
        """,
        3,
        "runners.alice.baseline_cadence_spm",
        "Input should be greater than or equal to 120",
        id="a coach's baseline cadence below 120 spm is refused",
    ),
    pytest.param(
        """\
        runners:
          alice:
            cadence_retraining: sometimes
        """,
        3,
        "runners.alice.cadence_retraining",
        "Input should be a valid boolean",
        id="cadence retraining is yes or no",
    ),
    pytest.param(
        """\
        coaches:
          - harriers
        """,
        1,
        "coaches",
        "Extra inputs are not permitted",
        id="an unknown top-level key points at that key",
    ),
    pytest.param(
        """\
        teams:
          harriers:
            notify: [{url: "json://hooks.example.org/x", min_severity: loud}]
        """,
        3,
        "teams.harriers.notify.0.min_severity",
        "Input should be 'info', 'warning' or 'critical'",
        id="a target's min_severity is a severity",
    ),
    pytest.param(
        """\
        runners:
          alice:
            notify:
              - "ntfys://ntfy.example.org/alice"
              - coach@example.org
        """,
        5,
        "runners.alice.notify.1.url",
        "String should match pattern",
        id="a notify target is a URL with a scheme",
    ),
]


@pytest.mark.parametrize("text, line, field, problem", INVALID_ROSTERS)
def test_an_invalid_roster_names_the_file_the_line_and_the_field(roster_path, text, line, field, problem):
    write_roster(roster_path, text)

    with pytest.raises(RosterError) as raised:
        load_roster(roster_path)

    assert str(raised.value).startswith(f"{roster_path} line {line}: {field}: {problem}")


def test_every_problem_of_a_roster_is_reported_on_its_own_line(roster_path):
    write_roster(
        roster_path,
        """\
        runners:
          alice: {team: harriers, tem: x}
          bob:
            baseline_cadence_spm: 300
        """,
    )

    with pytest.raises(RosterError) as raised:
        load_roster(roster_path)

    assert [line.split(":")[0] for line in str(raised.value).splitlines()] == [
        f"{roster_path} line 2",
        f"{roster_path} line 4",
    ]


def test_a_yaml_syntax_error_names_the_file_and_line(roster_path):
    write_roster(
        roster_path,
        """\
        runners:
          alice:
            team: harriers: striders
        """,
    )

    with pytest.raises(RosterError, match=r"line 3: YAML syntax: mapping values are not allowed here") as raised:
        load_roster(roster_path)

    assert str(raised.value).startswith(f"{roster_path} line 3:")


def test_a_missing_roster_file_says_it_is_not_found(tmp_path):
    missing = tmp_path / "nowhere" / "roster.yaml"

    with pytest.raises(RosterError, match="roster file not found") as raised:
        load_roster(missing)

    assert str(raised.value).startswith(str(missing))


# ---------------------------------------------------------------------------- RosterFile

GOOD = "runners:\n  alice: {team: harriers}\n"
MOVED = "runners:\n  alice: {team: striders}\n  bob: {team: harriers}\n"
BROKEN = "runners:\n  alice: {team: harriers, baseline_cadence_spm: 9000}\n"


def test_the_first_load_of_a_bad_roster_raises(roster_path):
    write_roster(roster_path, BROKEN)

    with pytest.raises(RosterError, match="line 2: runners.alice.baseline_cadence_spm"):
        RosterFile(roster_path, clock=ManualClock())


def test_the_first_load_of_a_missing_roster_raises(tmp_path):
    with pytest.raises(RosterError, match="not found"):
        RosterFile(tmp_path / "roster.yaml", clock=ManualClock())


def test_an_edit_is_picked_up_without_a_restart(roster_path):
    clock = ManualClock()
    roster_file = RosterFile(write_roster(roster_path, GOOD), clock=clock)

    write_roster(roster_path, MOVED)
    clock.advance(1.0)

    assert roster_file.current.team_of("alice") == "striders"
    assert roster_file.current.team_of("bob") == "harriers"


def test_the_file_is_looked_at_no_more_than_once_a_second(roster_path):
    clock = ManualClock()
    roster_file = RosterFile(write_roster(roster_path, GOOD), clock=clock)

    write_roster(roster_path, MOVED)
    clock.advance(0.9)
    assert roster_file.current.team_of("alice") == "harriers"  # not looked at yet

    clock.advance(0.1)
    assert roster_file.current.team_of("alice") == "striders"


def test_an_invalid_edit_keeps_the_last_good_roster_and_is_logged_once(roster_path, caplog):
    clock = ManualClock()
    roster_file = RosterFile(write_roster(roster_path, GOOD), clock=clock)
    write_roster(roster_path, BROKEN)

    with caplog.at_level(logging.ERROR, logger="footpod.roster"):
        for _ in range(3):
            clock.advance(1.0)
            assert roster_file.current.team_of("alice") == "harriers"

    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "footpod.roster"
    assert f"{roster_path} line 2: runners.alice.baseline_cadence_spm" in errors[0].getMessage()


def test_a_fix_after_an_invalid_edit_is_picked_up(roster_path):
    clock = ManualClock()
    roster_file = RosterFile(write_roster(roster_path, GOOD), clock=clock)
    write_roster(roster_path, BROKEN)
    clock.advance(1.0)
    _ = roster_file.current  # looks at the file: the invalid edit is read and refused

    write_roster(roster_path, MOVED)
    clock.advance(1.0)

    assert roster_file.current.team_of("alice") == "striders"


def test_a_deleted_roster_keeps_the_last_good_one_until_it_is_back(roster_path):
    clock = ManualClock()
    roster_file = RosterFile(write_roster(roster_path, GOOD), clock=clock)

    roster_path.unlink()
    clock.advance(1.0)
    assert roster_file.current.team_of("alice") == "harriers"

    write_roster(roster_path, MOVED)
    clock.advance(1.0)
    assert roster_file.current.team_of("alice") == "striders"


def test_a_team_name_that_would_break_the_alert_topic_names_its_line(tmp_path):
    path = tmp_path / "roster.yaml"
    path.write_text("runners:\n  alice:\n    team: north/south\n")
    with pytest.raises(RosterError, match=r"line 3: runners\.alice\.team: String should match pattern"):
        load_roster(path)


def test_an_empty_notify_key_means_no_targets(roster_path):
    roster = load_roster(
        write_roster(roster_path, "teams:\n  harriers:\n    notify:\nrunners:\n  alice:\n    notify:\n")
    )
    assert roster.team_targets("harriers") == [] and roster.entry("alice").notify == ()


def test_a_save_by_rename_with_the_same_size_and_time_is_picked_up(roster_path):
    clock = ManualClock()
    roster_file = RosterFile(write_roster(roster_path, GOOD), clock=clock)
    before = roster_path.stat()

    # an editor writes a new file beside the old one and renames it over it
    replacement = roster_path.with_name(".roster.yaml.swp")
    replacement.write_text(GOOD.replace("harriers", "striders"))  # same length
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))  # same time, as `cp -p` leaves it
    os.replace(replacement, roster_path)
    clock.advance(1.0)

    assert roster_path.stat().st_size == before.st_size
    assert roster_file.current.team_of("alice") == "striders"
