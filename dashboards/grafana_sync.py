"""The per-team plan (`dashboards/teams.py`) applied to a Grafana through `grafana-client`, and
coaches added to their team.

Every step reads first and writes only what differs, so a second sync with the same roster
changes nothing: a folder is created or retitled, a Grafana team created, a folder's permissions
replaced by exactly the team's View (Grafana's POST replaces the whole list: the default Viewer
and Editor role permissions go, admins always see everything), a dashboard overwritten when its
JSON or folder differs. The all-teams folder of the file provider is left to admins the same way.

Grafana's answers become one-line errors: `ConfigError` (exit 2) when it refuses the admin
credentials, `GrafanaError` (exit 1) when it cannot be reached or answers otherwise.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError

from dashboards import teams
from footpod.errors import ConfigError, FootpodError

T = TypeVar("T")
TIMEOUT_S = 10.0
SYNC_MESSAGE = "footpod-monitor dashboards grafana-sync"
ROLES_WITH_DEFAULTS = ("Viewer", "Editor")  # the role permissions Grafana gives a new folder


class GrafanaError(FootpodError):
    """Grafana could not be reached, or answered a request with an error."""


@dataclass(frozen=True)
class Change:
    """What one step did: `kind` (folder, team, permissions, dashboard, user, member), the thing's
    name, and `action` (created, updated, unchanged, missing)."""

    kind: str
    name: str
    action: str


def connect(url: str, user: str, password: str, timeout_s: float = TIMEOUT_S) -> GrafanaApi:
    """A client for the Grafana at `url` (https://host:3000, or under a path: https://host/grafana),
    logging in as a server admin."""
    # with a trailing slash, a path's API is path/api (grafana-client joins them without one)
    return GrafanaApi.from_url(url.rstrip("/") + "/", credential=(user, password), timeout=timeout_s)


@contextmanager
def answers_of(url: str) -> Iterator[None]:
    """Grafana's failures inside the block as the project's errors, each one line naming `url`."""
    try:
        yield
    except GrafanaUnauthorizedError as error:
        raise ConfigError(
            f"Grafana at {url} refused the admin login (401): check FOOTPOD_GRAFANA_ADMIN_USER and "
            "FOOTPOD_GRAFANA_ADMIN_PASSWORD(_FILE)"
        ) from error
    except GrafanaClientError as error:
        if error.status_code == 403:
            raise ConfigError(
                f"Grafana at {url} answered 403: FOOTPOD_GRAFANA_ADMIN_USER must be a Grafana server admin"
            ) from error
        raise GrafanaError(f"Grafana at {url}: {error.message}") from error
    except GrafanaException as error:
        raise GrafanaError(f"Grafana at {url}: {error.message}") from error
    except niquests.exceptions.RequestException as error:
        raise GrafanaError(f"cannot reach Grafana at {url}: {error}") from error


def _unless_absent(call: Callable[[], T]) -> T | None:
    """`call()`, or None when Grafana answers 404."""
    try:
        return call()
    except GrafanaClientError as error:
        if error.status_code == 404:
            return None
        raise


# --- Steps ----------------------------------------------------------------------------------


def ensure_folder(api: GrafanaApi, uid: str, title: str) -> Change:
    """The folder `uid` exists with `title`."""
    folder = _unless_absent(lambda: api.folder.get_folder(uid))
    if folder is None:
        api.folder.create_folder(title, uid=uid)
        return Change("folder", title, "created")
    if folder.get("title") != title:
        api.folder.update_folder(uid, title=title, overwrite=True)
        return Change("folder", title, "updated")
    return Change("folder", title, "unchanged")


def team_id_of(api: GrafanaApi, name: str) -> int | None:
    """The id of the Grafana team called exactly `name`, None when there is none."""
    found = [team for team in api.teams.get_team_by_name(name) if team.get("name") == name]
    return int(found[0]["id"]) if found else None


def ensure_team(api: GrafanaApi, name: str) -> tuple[int, Change]:
    """The Grafana team `name` exists; its id."""
    team_id = team_id_of(api, name)
    if team_id is not None:
        return team_id, Change("team", name, "unchanged")
    created = api.teams.add_team({"name": name})
    return int(created["teamId"]), Change("team", name, "created")


def permission_key(item: Mapping[str, Any]) -> tuple[str, int | str, int] | None:
    """A folder permission as (who kind, who, level); None for one nobody sets here (inherited,
    or the Admin role's, which Grafana does not let anyone change)."""
    level = int(item.get("permission", 0))
    if item.get("inherited"):
        return None
    if item.get("teamId"):
        return ("team", int(item["teamId"]), level)
    if item.get("userId"):
        return ("user", int(item["userId"]), level)
    if item.get("role") in ROLES_WITH_DEFAULTS:
        return ("role", str(item["role"]), level)
    return None


def ensure_folder_permissions(api: GrafanaApi, uid: str, items: Sequence[Mapping[str, Any]], name: str) -> Change:
    """The folder's permissions are exactly `items` (besides admins, who always see everything)."""
    current = {key for item in api.folder.get_folder_permissions(uid) if (key := permission_key(item))}
    wanted = {key for item in items if (key := permission_key(item))}
    if current == wanted:
        return Change("permissions", name, "unchanged")
    api.folder.update_folder_permissions(uid, {"items": [dict(item) for item in items]})
    return Change("permissions", name, "updated")


def stored_form(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    """A dashboard as compared: without the id and version Grafana adds."""
    return {key: value for key, value in dashboard.items() if key not in ("id", "version")}


def ensure_dashboard(api: GrafanaApi, dashboard: Mapping[str, Any], folder_uid: str) -> Change:
    """The dashboard is stored as given, in folder `folder_uid`."""
    uid, title = str(dashboard["uid"]), str(dashboard["title"])
    stored = _unless_absent(lambda: api.dashboard.get_dashboard(uid))
    if stored is not None:
        same_folder = stored.get("meta", {}).get("folderUid") == folder_uid
        if same_folder and stored_form(stored.get("dashboard", {})) == stored_form(dashboard):
            return Change("dashboard", title, "unchanged")
    api.dashboard.update_dashboard(
        {"dashboard": {**dashboard, "id": None}, "folderUid": folder_uid, "overwrite": True, "message": SYNC_MESSAGE}
    )
    return Change("dashboard", title, "created" if stored is None else "updated")


def restrict_all_teams_folder(api: GrafanaApi, title: str = teams.ALL_TEAMS_FOLDER_TITLE) -> Change:
    """The file provider's all-teams folder: admins only (no role or team permission left)."""
    found = [folder for folder in api.folder.get_all_folders() if folder.get("title") == title]
    if not found:
        return Change("permissions", f"{title} (all teams)", "missing")
    return ensure_folder_permissions(api, str(found[0]["uid"]), [], f"{title} (all teams): admins only")


def sync(api: GrafanaApi, plans: Sequence[teams.TeamPlan]) -> list[Change]:
    """Apply every team's plan, then keep the all-teams folder to admins; what each step did."""
    changes: list[Change] = []
    for plan in plans:
        changes.append(ensure_folder(api, plan.folder_uid, plan.folder_title))
        team_id, change = ensure_team(api, plan.grafana_team)
        changes.append(change)
        changes.append(
            ensure_folder_permissions(
                api,
                plan.folder_uid,
                [{"teamId": team_id, "permission": plan.permission}],
                f"{plan.folder_title}: {plan.grafana_team} may view",
            )
        )
        changes += [ensure_dashboard(api, dashboard, plan.folder_uid) for dashboard in plan.dashboards]
    changes.append(restrict_all_teams_folder(api))
    return changes


def new_password() -> str:
    """A password to hand a new coach once (they change it in their profile)."""
    return secrets.token_urlsafe(12)


def add_coach(
    api: GrafanaApi, email: str, team: str, password: str | None = None, name: str | None = None
) -> tuple[list[Change], str | None]:
    """`email` is a Grafana user (created with `password`, or a new one, when missing) and a member
    of the team's coaches. The changes, and the password made here (None when none was).

    Raises GrafanaError when the team's Grafana team does not exist (the sync has not run)."""
    grafana_team = teams.grafana_team_name(team)
    team_id = team_id_of(api, grafana_team)
    if team_id is None:
        raise GrafanaError(f"Grafana has no team {grafana_team!r}: run `footpod-monitor dashboards grafana-sync` first")
    changes: list[Change] = []
    made: str | None = None
    user = _unless_absent(lambda: api.users.find_user(email))
    if user is None:
        if password is None:
            password = made = new_password()
        created = api.admin.create_user({"name": name or email, "email": email, "login": email, "password": password})
        user_id = int(created["id"])
        changes.append(Change("user", email, "created"))
    else:
        user_id = int(user["id"])
        changes.append(Change("user", email, "unchanged"))
    members = {int(member["userId"]) for member in api.teams.get_team_members(team_id)}
    if user_id in members:
        changes.append(Change("member", f"{email} in {grafana_team}", "unchanged"))
    else:
        api.teams.add_team_member(team_id, user_id)
        changes.append(Change("member", f"{email} in {grafana_team}", "created"))
    return changes, made
