"""The roster's `devices`: each runner's footpods and how each counts cadence (CONTRACT.md "Roster")."""

from pathlib import Path
from textwrap import dedent

import pytest

from footpod.errors import RosterError
from footpod.roster import load_roster


def roster_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(dedent(text))
    return path


def test_devices_map_addresses_and_serials_to_their_cadence_unit(tmp_path):
    roster = load_roster(
        roster_file(
            tmp_path,
            """\
        runners:
          alice:
            devices:
              "C4:7A:0B:11:22:33": {cadence: per_foot}
              "3341889012": {}
              "D0:01:02:03:04:05": {cadence: both_feet}
              "E0:01:02:03:04:05":
    """,
        )
    )

    devices = roster.entry("alice").devices
    assert devices["C4:7A:0B:11:22:33"].cadence == "per_foot"
    assert devices["D0:01:02:03:04:05"].cadence == "both_feet"
    assert devices["3341889012"].cadence is None  # unsaid: the gateway assumes the spec's unit
    assert devices["E0:01:02:03:04:05"].cadence is None


def test_a_runner_without_devices_has_none(tmp_path):
    assert load_roster(roster_file(tmp_path, "runners:\n  bob: {team: harriers}\n")).entry("bob").devices == {}


def test_an_unknown_cadence_unit_names_its_line_and_field(tmp_path):
    path = roster_file(
        tmp_path,
        """\
        runners:
          alice:
            devices:
              "C4:7A:0B:11:22:33": {cadence: strides}
    """,
    )

    with pytest.raises(RosterError) as error:
        load_roster(path)
    assert f"{path} line 4: runners.alice.devices.C4:7A:0B:11:22:33.cadence:" in str(error.value)


def test_a_device_name_with_a_slash_is_rejected_at_its_line(tmp_path):
    path = roster_file(
        tmp_path,
        """\
        runners:
          alice:
            devices:
              "pod/1": {}
    """,
    )

    with pytest.raises(RosterError, match=r"line 4: runners.alice.devices.pod/1 \(name\)"):
        load_roster(path)
