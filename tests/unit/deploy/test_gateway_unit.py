"""The gateway's systemd unit runs the real command, keeps the outbox in its state directory, restarts."""

import configparser
import shlex
from pathlib import Path

from monitor.cli import build_parser

UNIT = Path(__file__).resolve().parents[3] / "deploy" / "gateway" / "footpod-gateway.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(UNIT)
    return parser["Service"]


def test_the_unit_runs_the_gateway_command_as_the_cli_parses_it():
    argv = shlex.split(service()["ExecStart"])

    assert argv[0].endswith("/footpod-monitor")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "gateway" and args.simulate == 0 and args.no_view


def test_the_outbox_lives_in_the_units_state_directory():
    unit = service()

    assert unit["Environment"] == f"FOOTPOD_DATA_DIR=/var/lib/{unit['StateDirectory']}"


def test_the_unit_restarts_and_may_use_bluez():
    unit = service()

    assert unit["Restart"] == "always"
    assert "bluetooth" in unit["SupplementaryGroups"].split()
    assert unit["KillSignal"] == "SIGTERM"
