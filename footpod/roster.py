"""The roster coaches keep (FOOTPOD_ROSTER, YAML): runners and their team."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from footpod.errors import RosterError

UNASSIGNED = "unassigned"  # CONTRACT.md: a runner missing from the roster


class RunnerEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str = UNASSIGNED
    baseline_cadence_spm: float | None = None


class Roster(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    runners: dict[str, RunnerEntry] = {}

    def team_of(self, runner: str) -> str:
        entry = self.runners.get(runner)
        return entry.team if entry else UNASSIGNED


def load_roster(path: Path | None) -> Roster:
    """Read and validate the roster; no path means everyone is unassigned."""
    if path is None:
        return Roster()
    try:
        document = yaml.safe_load(path.read_text()) or {}
        return Roster.model_validate(document)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise RosterError(f"roster {path}: {error}") from error


class RosterFile:
    """The roster, read again when the file changes."""

    def __init__(self, path: Path | None):
        self.path = path
        self._mtime: float | None = None
        self._roster = load_roster(path)
        self._mtime = self._stat()

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime if self.path else None
        except OSError:
            return None

    @property
    def current(self) -> Roster:
        mtime = self._stat()
        if mtime != self._mtime:
            self._mtime = mtime
            self._roster = load_roster(self.path)
        return self._roster
