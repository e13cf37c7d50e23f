"""A stand-in for Grafana's HTTP API, NOT Grafana: the few endpoints `dashboards/grafana_sync.py`
calls, shaped as Grafana's HTTP API reference documents them, with state kept in memory.

No Grafana binary can be had on this machine (no Debian package, no container), so the sync is
tested against this small server on a port the OS picks. It answers as the documented API does:
basic auth of a server admin (401 otherwise), 404 for a missing folder, dashboard or user, a new
folder with Grafana's default permissions (Viewer role View, Editor role Edit, its creator Admin),
`POST /api/folders/:uid/permissions` replacing the whole list, 409 for a taken team name, 400 for
a member already in the team, a dashboard's version raised on every save. It records every write,
so a test can tell that a second sync wrote nothing, and says which folders a user may view under
Grafana's folder permission rules (admins all; others by role, team or user permission).

Endpoints: GET /api/health; GET, POST /api/folders; GET, PUT /api/folders/:uid; GET, POST
/api/folders/:uid/permissions; GET /api/teams/search; POST /api/teams; GET, POST
/api/teams/:id/members; GET /api/users/lookup; POST /api/admin/users; GET
/api/dashboards/uid/:uid; POST /api/dashboards/db.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PERMISSION_NAMES = {1: "View", 2: "Edit", 4: "Admin"}


@dataclass
class State:
    """Grafana's objects as the stand-in keeps them."""

    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    permissions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    teams: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 100

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def user_by_login(self, login_or_email: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if login_or_email in (u["login"], u["email"])), None)

    def folder_by_title(self, title: str) -> dict[str, Any] | None:
        return next((f for f in self.folders.values() if f["title"] == title), None)

    def visible_folders(self, user_id: int) -> set[str]:
        """The titles of the folders `user_id` may view: every one for an admin, else those whose
        permissions name the user's org role, one of the user's teams, or the user."""
        user = self.users[user_id]
        if user["role"] == "Admin" or user["isGrafanaAdmin"]:
            return {f["title"] for f in self.folders.values()}
        teams = {team_id for team_id, ids in self.members.items() if user_id in ids}
        visible = set()
        for uid, items in self.permissions.items():
            for item in items:
                if (
                    item.get("role") == user["role"]
                    or (item.get("role") == "Viewer" and user["role"] == "Editor")
                    or item.get("teamId") in teams
                    or item.get("userId") == user_id
                ):
                    visible.add(self.folders[uid]["title"])
        return visible


class GrafanaStandIn(ThreadingHTTPServer):
    """The stand-in on 127.0.0.1 and a free port; `state` is what it holds."""

    daemon_threads = True

    def __init__(self, admin_password: str, admin_user: str = "admin"):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.state = State()
        self.state.users[1] = {
            "id": 1,
            "login": admin_user,
            "email": "admin@localhost",
            "name": admin_user,
            "password": admin_password,
            "isGrafanaAdmin": True,
            "role": "Admin",
        }
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def provision_folder(self, title: str) -> str:
        """A folder as the file provider makes it (with the default permissions); its uid."""
        with self.lock:
            return create_folder(self.state, f"provisioned-{len(self.state.folders)}", title)

    def __enter__(self) -> GrafanaStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


def create_folder(state: State, uid: str, title: str) -> str:
    state.folders[uid] = {"id": state.new_id(), "uid": uid, "title": title, "version": 1}
    state.permissions[uid] = [
        {"role": "Viewer", "permission": 1},
        {"role": "Editor", "permission": 2},
        {"userId": 1, "permission": 4},  # its creator
    ]
    return uid


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{pattern}$"), name)
    for method, pattern, name in [
        ("GET", r"/api/health", "health"),
        ("GET", r"/api/folders", "list_folders"),
        ("POST", r"/api/folders", "create_folder"),
        ("GET", r"/api/folders/(?P<uid>[^/]+)", "get_folder"),
        ("PUT", r"/api/folders/(?P<uid>[^/]+)", "update_folder"),
        ("GET", r"/api/folders/(?P<uid>[^/]+)/permissions", "get_permissions"),
        ("POST", r"/api/folders/(?P<uid>[^/]+)/permissions", "set_permissions"),
        ("GET", r"/api/teams/search", "search_teams"),
        ("POST", r"/api/teams", "create_team"),
        ("GET", r"/api/teams/(?P<id>\d+)/members", "get_members"),
        ("POST", r"/api/teams/(?P<id>\d+)/members", "add_member"),
        ("GET", r"/api/users/lookup", "lookup_user"),
        ("POST", r"/api/admin/users", "create_user"),
        ("GET", r"/api/dashboards/uid/(?P<uid>[^/]+)", "get_dashboard"),
        ("POST", r"/api/dashboards/db", "save_dashboard"),
    ]
]


class Handler(BaseHTTPRequestHandler):
    server: GrafanaStandIn

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        try:
            self._authenticate()
            for route_method, pattern, name in ROUTES:
                match = pattern.match(parts.path)
                if match and route_method == method:
                    with self.server.lock:
                        if method != "GET":
                            self.server.state.writes.append((method, parts.path))
                        answer = getattr(self, name)(body=body, query=parse_qs(parts.query), **match.groupdict())
                    self._reply(200, answer)
                    return
            raise ApiError(404, "Not found")
        except ApiError as error:
            self._reply(error.status, {"message": error.message})

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            raise ApiError(401, "Unauthorized")
        login, _, password = base64.b64decode(header[6:]).decode().partition(":")
        user = self.server.state.user_by_login(login)
        if user is None or user["password"] != password:
            raise ApiError(401, "Invalid username or password")
        if not user["isGrafanaAdmin"]:
            raise ApiError(403, "Permission denied")

    def _reply(self, status: int, answer: Any) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @property
    def state(self) -> State:
        return self.server.state

    # --- Endpoints --------------------------------------------------------------------------

    def health(self, **_: Any) -> Any:
        return {"database": "ok", "version": "11.3.0"}

    def list_folders(self, **_: Any) -> Any:
        return [{"id": f["id"], "uid": f["uid"], "title": f["title"]} for f in self.state.folders.values()]

    def _folder(self, uid: str) -> dict[str, Any]:
        if uid not in self.state.folders:
            raise ApiError(404, "folder not found")
        return self.state.folders[uid]

    def create_folder(self, body: dict[str, Any], **_: Any) -> Any:
        uid = body.get("uid") or f"auto{self.state.new_id()}"
        if uid in self.state.folders:
            raise ApiError(409, "a folder with the same uid already exists")
        return self.state.folders[create_folder(self.state, uid, body["title"])]

    def get_folder(self, uid: str, **_: Any) -> Any:
        return self._folder(uid)

    def update_folder(self, uid: str, body: dict[str, Any], **_: Any) -> Any:
        folder = self._folder(uid)
        if not body.get("overwrite") and body.get("version") != folder["version"]:
            raise ApiError(412, "the folder has been changed by someone else")
        folder.update(title=body.get("title", folder["title"]), version=folder["version"] + 1)
        return folder

    def get_permissions(self, uid: str, **_: Any) -> Any:
        folder = self._folder(uid)
        listed = []
        for item in self.state.permissions[uid]:
            team = self.state.teams.get(item.get("teamId", 0), {})
            user = self.state.users.get(item.get("userId", 0), {})
            listed.append(
                {
                    "folderId": folder["id"],
                    "folderUid": uid,
                    "userId": item.get("userId", 0),
                    "userLogin": user.get("login", ""),
                    "teamId": item.get("teamId", 0),
                    "team": team.get("name", ""),
                    "role": item.get("role", ""),
                    "permission": item["permission"],
                    "permissionName": PERMISSION_NAMES[item["permission"]],
                    "inherited": False,
                }
            )
        return listed

    def set_permissions(self, uid: str, body: dict[str, Any], **_: Any) -> Any:
        self._folder(uid)
        items = []
        for item in body["items"]:
            who = [key for key in ("role", "teamId", "userId") if item.get(key)]
            if len(who) != 1 or item.get("permission") not in PERMISSION_NAMES:
                raise ApiError(400, "bad permission item")
            if item.get("role") not in (None, "Viewer", "Editor"):
                raise ApiError(400, "permissions cannot be set for admins")
            if item.get("teamId") and item["teamId"] not in self.state.teams:
                raise ApiError(404, "team not found")
            items.append({who[0]: item[who[0]], "permission": item["permission"]})
        self.state.permissions[uid] = items  # the whole list is replaced
        return {"message": "Folder permissions updated"}

    def search_teams(self, query: dict[str, list[str]], **_: Any) -> Any:
        teams = list(self.state.teams.values())
        if "name" in query:
            teams = [t for t in teams if t["name"] == query["name"][0]]
        if "query" in query:
            teams = [t for t in teams if query["query"][0].lower() in t["name"].lower()]
        shown = [{**t, "memberCount": len(self.state.members[t["id"]])} for t in teams]
        return {"totalCount": len(shown), "teams": shown, "page": 1, "perPage": 1000}

    def create_team(self, body: dict[str, Any], **_: Any) -> Any:
        if any(t["name"] == body["name"] for t in self.state.teams.values()):
            raise ApiError(409, "Team name taken")
        team_id = self.state.new_id()
        self.state.teams[team_id] = {"id": team_id, "orgId": 1, "name": body["name"], "email": body.get("email", "")}
        self.state.members[team_id] = set()
        return {"message": "Team created", "teamId": team_id}

    def _team(self, id: str) -> int:
        if int(id) not in self.state.teams:
            raise ApiError(404, "Team not found")
        return int(id)

    def get_members(self, id: str, **_: Any) -> Any:
        team_id = self._team(id)
        users = [self.state.users[user_id] for user_id in sorted(self.state.members[team_id])]
        return [
            {"orgId": 1, "teamId": team_id, "userId": u["id"], "email": u["email"], "login": u["login"]} for u in users
        ]

    def add_member(self, id: str, body: dict[str, Any], **_: Any) -> Any:
        team_id = self._team(id)
        if body["userId"] not in self.state.users:
            raise ApiError(404, "User not found")
        if body["userId"] in self.state.members[team_id]:
            raise ApiError(400, "User is already added to this team")
        self.state.members[team_id].add(body["userId"])
        return {"message": "Member added to Team"}

    def lookup_user(self, query: dict[str, list[str]], **_: Any) -> Any:
        user = self.state.user_by_login(query.get("loginOrEmail", [""])[0])
        if user is None:
            raise ApiError(404, "user not found")
        return {key: value for key, value in user.items() if key != "password"}

    def create_user(self, body: dict[str, Any], **_: Any) -> Any:
        login = body.get("login") or body["email"]
        if self.state.user_by_login(login) or self.state.user_by_login(body["email"]):
            raise ApiError(412, "User with same email or login already exists")
        user_id = self.state.new_id()
        self.state.users[user_id] = {
            "id": user_id,
            "login": login,
            "email": body["email"],
            "name": body.get("name", ""),
            "password": body["password"],
            "isGrafanaAdmin": False,
            "role": "Viewer",  # auto_assign_org_role
        }
        return {"id": user_id, "message": "User created"}

    def get_dashboard(self, uid: str, **_: Any) -> Any:
        if uid not in self.state.dashboards:
            raise ApiError(404, "Dashboard not found")
        stored = self.state.dashboards[uid]
        meta = {"folderUid": stored["folderUid"], "version": stored["dashboard"]["version"], "slug": uid}
        return {"dashboard": stored["dashboard"], "meta": meta}

    def save_dashboard(self, body: dict[str, Any], **_: Any) -> Any:
        dashboard = dict(body["dashboard"])
        uid, folder_uid = dashboard["uid"], body.get("folderUid", "")
        if folder_uid and folder_uid not in self.state.folders:
            raise ApiError(400, "folder not found")
        stored = self.state.dashboards.get(uid)
        if stored and not body.get("overwrite"):
            raise ApiError(412, "version-mismatch")
        dashboard["id"] = stored["dashboard"]["id"] if stored else self.state.new_id()
        dashboard["version"] = stored["dashboard"]["version"] + 1 if stored else 1
        self.state.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder_uid}
        return {
            "id": dashboard["id"],
            "uid": uid,
            "url": f"/d/{uid}",
            "status": "success",
            "version": dashboard["version"],
            "slug": uid,
        }
