"""The roster coaches keep (FOOTPOD_ROSTER, YAML): runners, their team and per-runner settings.

A runner missing from the roster is still monitored, in team `unassigned` (CONTRACT.md). A bad
roster fails with a `RosterError` naming the file, the line and the field; `RosterFile` picks up
edits without a restart and keeps the last good roster when an edit is bad.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError
from yaml.constructor import SafeConstructor

from footpod.contract import DEVICE_PATTERN, RUNNER_PATTERN, Severity
from footpod.errors import RosterError

log = logging.getLogger("footpod.roster")

UNASSIGNED = "unassigned"  # CONTRACT.md: the team of a runner missing from the roster
CHECK_EVERY_S = 1.0  # how often RosterFile looks at the file's mtime and size


def _empty_if_null(value: Any) -> Any:
    """A key written with nothing after it (`alice:`, `shoes:`) means an empty mapping."""
    return {} if value is None else value


RunnerName = Annotated[str, StringConstraints(pattern=RUNNER_PATTERN)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_PATTERN)]
TeamName = Annotated[str, StringConstraints(pattern=RUNNER_PATTERN)]
_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ReturnToRun(BaseModel):
    """A runner on the return-to-run protocol (RULES.md §5): phases count weeks from `start`."""

    model_config = _FROZEN

    start: date
    normal_week_km: float = Field(gt=0, description="the runner's weekly distance before the injury")


def _target_of(value: Any) -> Any:
    """A plain string in a `notify` list is a URL with the default `min_severity`."""
    return {"url": value} if isinstance(value, str) else value


class NotifyTarget(BaseModel):
    """One notification target (CONTRACT.md, roster `notify`): an Apprise URL and what it is sent."""

    model_config = _FROZEN

    url: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9+.-]*://", description="Apprise URL: mailto://, ntfys://…")
    min_severity: Severity = "info"
    daily_status: bool = Field(False, description="also send the runner's status once a day (README, Notifications)")


class TeamTarget(NotifyTarget):
    """A team's targets (the coach) hear of warnings and worse unless told otherwise."""

    min_severity: Severity = "warning"


def _none_if_null(value: Any) -> Any:
    """`notify:` with nothing after it means no targets."""
    return () if value is None else value


RunnerTargets = Annotated[
    tuple[Annotated[NotifyTarget, BeforeValidator(_target_of)], ...], BeforeValidator(_none_if_null)
]
TeamTargets = Annotated[tuple[Annotated[TeamTarget, BeforeValidator(_target_of)], ...], BeforeValidator(_none_if_null)]


class TeamEntry(BaseModel):
    """One team's options: for now, where its alerts go."""

    model_config = _FROZEN

    notify: TeamTargets = ()


class DeviceEntry(BaseModel):
    """One footpod a runner wears (CONTRACT.md "Roster"): how it counts cadence, when the roster says."""

    model_config = _FROZEN

    cadence: Literal["per_foot", "both_feet"] | None = Field(
        None, description="per_foot: the sensor foot's steps (the BLE RSC spec); both_feet: steps of both feet"
    )


class RunnerEntry(BaseModel):
    """One runner's team and coach-set options; every field may be left out."""

    model_config = _FROZEN

    team: TeamName = UNASSIGNED  # part of the topic alerts/{team}/{runner}: no '/', '+' or '#'
    baseline_cadence_spm: float | None = Field(
        None, ge=120, le=220, description="coach-set cadence baseline (RULES.md §1), replaces the median"
    )
    cadence_retraining: bool = Field(False, description="runner is raising cadence (RULES.md §4)")
    cadence_retraining_since: date | None = Field(
        None, description="when retraining started: its baseline is frozen then (RULES.md §1)"
    )
    return_to_run: ReturnToRun | None = None
    shoes: Annotated[dict[DeviceId, Annotated[float, Field(ge=0)]], BeforeValidator(_empty_if_null)] = Field(
        default_factory=dict, description="footpod device_id -> km the shoe had when paired (RULES.md §6)"
    )
    notify: RunnerTargets = ()
    devices: Annotated[
        dict[DeviceId, Annotated[DeviceEntry, BeforeValidator(_empty_if_null)]], BeforeValidator(_empty_if_null)
    ] = Field(default_factory=dict, description="BLE address or FIT serial -> the pod's options")


_UNLISTED = RunnerEntry()


class Roster(BaseModel):
    """Runners by name (the MQTT user name, `{runner}` in topics)."""

    model_config = _FROZEN

    runners: Annotated[
        dict[RunnerName, Annotated[RunnerEntry, BeforeValidator(_empty_if_null)]],
        BeforeValidator(_empty_if_null),
    ] = Field(default_factory=dict)
    teams: Annotated[
        dict[TeamName, Annotated[TeamEntry, BeforeValidator(_empty_if_null)]],
        BeforeValidator(_empty_if_null),
    ] = Field(default_factory=dict)

    def entry(self, runner: str) -> RunnerEntry:
        """The runner's entry; a runner missing from the roster gets the defaults (team unassigned)."""
        return self.runners.get(runner, _UNLISTED)

    def team_of(self, runner: str) -> str:
        """The runner's team, `unassigned` for a runner missing from the roster."""
        return self.entry(runner).team

    def team_targets(self, team: str) -> list[TeamTarget]:
        """The team's notification targets; none for a team the roster does not list."""
        entry = self.teams.get(team)
        return list(entry.notify) if entry else []


class _RosterLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so an impossible date is a field error with a line."""


_RosterLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_roster(path: Path | None) -> Roster:
    """Read and validate the roster; no path means everyone is unassigned.

    Raises `RosterError` when the file is missing, unreadable, not YAML or not a valid roster;
    the message names the file and, where there is one, the line and the field.
    """
    if path is None:
        return Roster()
    text = _read_text(path)
    node, document = _parse_yaml(path, text)
    try:
        return Roster.model_validate(_empty_if_null(document))
    except ValidationError as error:
        raise RosterError(_describe_validation_error(path, node, error)) from error


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise RosterError(f"{path}: roster file not found") from error
    except OSError as error:
        raise RosterError(f"{path}: roster file cannot be read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise RosterError(f"{path}: roster file is not UTF-8 text") from error


def _parse_yaml(path: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for line numbers) and the document built from it."""
    loader = _RosterLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.MarkedYAMLError as error:
        raise RosterError(_describe_yaml_error(path, error)) from error
    except (yaml.YAMLError, ValueError) as error:
        raise RosterError(f"{path}: not valid YAML: {error}") from error
    finally:
        loader.dispose()


def _describe_yaml_error(path: Path, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f" line {mark.line + 1}" if mark else ""
    context = f" ({error.context})" if error.context else ""
    return f"{path}{where}: YAML syntax: {error.problem}{context}"


def _describe_validation_error(path: Path, root: yaml.Node | None, error: ValidationError) -> str:
    """One line per problem: `<file> line <n>: <field path>: <what is wrong>`."""
    lines = []
    for problem in error.errors(include_url=False):
        loc = problem["loc"]
        line = _line_of(root, loc)
        field = _field_path(loc)
        lines.append(f"{path} line {line}: {field}{': ' if field else ''}{problem['msg']}")
    return "\n".join(lines)


def _field_path(loc: Sequence[Any]) -> str:
    """`runners.bob.shoes.pod-1`; a bad mapping key reads `runners.b@d (name)`."""
    parts = [str(part) for part in loc if part != "[key]"]
    suffix = " (name)" if loc and loc[-1] == "[key]" else ""
    return ".".join(parts) + suffix


def _line_of(root: yaml.Node | None, loc: Sequence[Any]) -> int:
    """The 1-based line of the deepest node on the error's path that exists in the file.

    Within a mapping the line is the key's: a missing field points at its parent's key, an unknown
    or badly named key at itself, a bad value at the key it belongs to.
    """
    if root is None:
        return 1
    located, node = root, root
    for part in loc:
        if part == "[key]":
            continue
        child = _child(node, part)
        if child is None:
            break
        located, node = child
    return located.start_mark.line + 1


def _child(node: yaml.Node, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """(the node to point at, the node to descend into) for one step of an error's path."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and _scalar(key_node) == part:
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item
    return None


def _scalar(node: yaml.ScalarNode) -> Any:
    try:
        return SafeConstructor().construct_object(node)
    except (yaml.YAMLError, ValueError):
        return node.value


FileSignature = tuple[int, int, int]  # (mtime in ns, size in bytes, inode: a file replaced by rename)


def _signature(path: Path | None) -> FileSignature | None:
    """What tells a changed file apart; None when there is no file to look at."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class RosterFile:
    """The roster at `path`, read again when the file's mtime or size changes.

    The first read raises `RosterError` (a bad roster fails at start). Afterwards the file is looked
    at no more than once per `check_every_s` of `clock`; an edit that is not a valid roster is
    logged once and the last good roster stays current until the file changes again.
    """

    def __init__(
        self, path: Path | None, *, clock: Callable[[], float] = time.monotonic, check_every_s: float = CHECK_EVERY_S
    ):
        self.path = path
        self._clock = clock
        self._check_every_s = check_every_s
        self._signature = _signature(path)
        self._roster = load_roster(path)
        self._checked_at = clock()

    @property
    def current(self) -> Roster:
        """The last good roster, after a fresh look at the file if one is due."""
        now = self._clock()
        if now - self._checked_at >= self._check_every_s:
            self._checked_at = now
            self._reload_if_changed()
        return self._roster

    def _reload_if_changed(self) -> None:
        signature = _signature(self.path)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._roster = load_roster(self.path)
        except RosterError as error:
            log.error("%s\nkeeping the roster read before until the file changes again", error)
        else:
            log.info("roster %s read again: %d runners", self.path, len(self._roster.runners))
