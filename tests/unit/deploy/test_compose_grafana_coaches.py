"""The production Grafana keeps a coach to their team's folder: no sign-up, no anonymous or public
access, new users Viewers, and Viewers without Explore (README, "Grafana for coaches")."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def grafana_environment() -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {key: str(value) for key, value in compose["services"]["grafana"]["environment"].items()}


def test_grafana_makes_no_account_but_the_admins_and_lets_nobody_in_without_one():
    env = grafana_environment()
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_USERS_ALLOW_ORG_CREATE"] == "false"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_PUBLIC_DASHBOARDS_ENABLED"] == "false"
    assert env["GF_SNAPSHOTS_EXTERNAL_ENABLED"] == "false"


def test_a_new_coach_is_a_viewer_who_cannot_explore():
    env = grafana_environment()
    assert env["GF_USERS_AUTO_ASSIGN_ORG_ROLE"] == "Viewer"
    assert env["GF_USERS_VIEWERS_CAN_EDIT"] == "false"  # true would open Explore to Viewers
