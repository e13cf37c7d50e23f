"""The time-series store's schema, in one place: each measurement's tags and fields, the line
protocol that writes them, and the queries that read them back (CONTRACT.md, "Time series").

Every stage writes through `Measurement.line`, which refuses a tag or field the schema does not
name, and every read-back goes through the functions at the end of this module, which raise
`StoreReadError` when the store cannot answer: a failed read never turns into an empty history.
Pure apart from the read-backs, which take the store's query seam (`footpod.timeseries`) as an
argument.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from footpod.contract import PainReport
from footpod.errors import StoreReadError
from footpod.records import RunSummary

Query = Callable[[str], Awaitable[list[dict[str, Any]]]]
"""The store's InfluxQL seam: a query in, rows (tags and columns merged, times in ms) out."""


class Measurement(BaseModel):
    """A measurement's name, its tags, and its fields with their line-protocol types."""

    model_config = ConfigDict(frozen=True)

    name: str
    tags: tuple[str, ...]
    fields: Mapping[str, type]  # required fields
    optional: Mapping[str, type] = {}  # written when known

    @functools.cached_property
    def _prepared(self) -> tuple[tuple[str, ...], dict[str, tuple[type, str]], tuple[str, ...], str]:
        """The tags in line order, every field's type and escaped key, the required fields, the
        escaped name: worked out once."""
        types = {**self.optional, **self.fields}
        known = {key: (kind, key.translate(_ESCAPE_KEY)) for key, kind in types.items()}
        return tuple(sorted(self.tags)), known, tuple(self.fields), self.name.translate(_ESCAPE_MEASUREMENT)

    @functools.cached_property
    def _tag_set(self) -> frozenset[str]:
        return frozenset(self.tags)

    @functools.cached_property
    def _orders(self) -> dict[tuple[str, ...], tuple[tuple[str, type, str], ...]]:
        """Each set of fields a writer gives (as it gives them) in line order, with their types and
        escaped keys: a writer gives the same names at every point."""
        return {}

    def _order(self, names: tuple[str, ...]) -> tuple[tuple[str, type, str], ...] | None:
        """The fields `names` in line order (None if the measurement does not name one of them)."""
        orders = self._orders
        order = orders.get(names)
        if order is None:
            known = self._prepared[1]
            if not known.keys() >= set(names):
                return None
            order = tuple((name, *known[name]) for name in sorted(names))
            if len(orders) < 64:
                orders[names] = order
        return order

    def line(self, tags: Mapping[str, str], fields: Mapping[str, Any], ts_ms: int) -> str:
        """One point as line protocol (as `_line` writes it, each field as its type); absent optional
        fields (None) are left out.

        Raises ValueError for a tag or field this measurement does not have, or a missing one:
        a renamed field fails here, at the writer, not later as a silently empty read-back."""
        tag_order, known, required, name = self._prepared
        if len(tags) != len(tag_order) or not tags.keys() >= self._tag_set:
            raise ValueError(f"{self.name}: tags {sorted(tags)} are not {sorted(self.tags)}")
        order = self._order(tuple(fields))
        if order is None or None in map(fields.get, required):
            unknown = set(fields) - set(known)
            missing = set(self.fields) - {name for name, value in fields.items() if value is not None}
            raise ValueError(f"{self.name}: unknown fields {sorted(unknown)}, missing {sorted(missing)}")
        parts = []
        for field, kind, key in order:  # `_field_text(field, kind(value))`, each type written here
            value = fields[field]
            if value is None:
                continue
            if kind is float:
                value = float(value)
                if not _isfinite(value):
                    continue
                text = str(value)
                parts.append(f"{key}={text[:-2] if text.endswith('.0') else text}")
            elif kind is int:
                parts.append(f"{key}={int(value)}i")
            elif kind is str:
                parts.append(f"{key}={_string_text(str(value))}")
            elif kind is bool:
                parts.append(f"{key}={'true' if value else 'false'}")
            elif (text := _field_text(field, kind(value))) is not None:
                parts.append(f"{key}={text}")
        if not parts:
            return ""
        tag_text = _tag_text(tag_order, tuple(map(tags.__getitem__, tag_order)))
        return f"{name}{tag_text} {','.join(parts)} {int(ts_ms)}"


# Line protocol as influxdb-client's `Point.to_line_protocol` writes it (same escapes, sorted tags and
# fields, no trailing ".0", non-finite floats left out), without a Point per line: the stream writes
# lines for every runner under way several times a second, and building Points cost a tenth of its time.
_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_ESCAPE_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


def _line(name: str, tags: Mapping[str, str], fields: Mapping[str, Any], ts_ms: int) -> str:
    """A point as line protocol from its parts as they are (`Measurement.line` checks and types them)."""
    parts = []
    for key in sorted(fields):
        if (text := _field_text(key, fields[key])) is not None:
            parts.append(f"{key.translate(_ESCAPE_KEY)}={text}")
    if not parts:
        return ""
    order = tuple(sorted(tags))
    tag_text = _tag_text(order, tuple(tags[key] for key in order))
    return f"{name.translate(_ESCAPE_MEASUREMENT)}{tag_text} {','.join(parts)} {int(ts_ms)}"


@functools.lru_cache(maxsize=65_536)
def _tag_text(keys: tuple[str, ...], values: tuple[str, ...]) -> str:
    """`,key=value` for each tag with a value, in key order: the same runners, teams and devices come
    again and again, so each set of them is escaped once."""
    parts = []
    for key, raw in zip(keys, values, strict=True):
        if raw is None:
            continue
        value = str(raw).translate(_ESCAPE_KEY)
        if value.endswith("\\"):
            value += " "
        if key and value:
            parts.append(f"{key.translate(_ESCAPE_KEY)}={value}")
    return "," + ",".join(parts) if parts else ""


def _field_text(key: str, value: Any) -> str | None:
    """A field's value as line protocol; None for a non-finite float (left out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = str(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, str):
        return _string_text(value)
    raise ValueError(f'Type: "{type(value)}" of field: "{key}" is not supported.')


def _string_text(value: str) -> str:
    """A string field: quoted, its backslashes and quotes escaped (as `str.translate` with
    `_ESCAPE_STRING` escapes them, but in two passes in C: a run's segments are a few hundred
    characters of JSON, which `translate` maps one by one)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_isfinite = math.isfinite


CADENCE = Measurement(
    name="cadence",
    tags=("runner", "team", "device"),
    fields={"spm": float, "distance_m": float},
    optional={"speed_mps": float},
)
"""Cadence per device and 10 s of newly counted samples (all samples, walking included)."""

RUN = Measurement(
    name="run",
    tags=("runner", "team", "device"),
    fields={
        "run_id": str,
        "km": float,
        "source_km": float,
        "duration_s": float,
        "samples": int,
        "end_ms": int,
        "final": bool,
        "duplicate_of": str,
        "segments": str,
    },
    optional={"cadence_spm": float, "device_km": float, "cadence_dev_pct": float, "superseded_by": str},
)
"""A run at its start. `segments` (JSON) let a restarted stream rebuild its state; `final` says the
run was judged whole; a run another source's overlapping run replaces (RULES.md §7), or one whose
start moved earlier (`superseded_by`), keeps `km` 0 and names the run that counts in `duplicate_of`,
so sums count every run once. `source_km` is the distance its own device measured."""

LOAD = Measurement(
    name="load",
    tags=("runner", "team"),
    fields={"week_km": float, "prev_week_km": float, "chronic_week_km": float, "gate": str},
    optional={"change_pct": float, "acwr": float, "acwr_ewma": float, "budget_km": float},
)
"""A runner's load at an instant (a run's end, or midnight) with the gate in force and its budget."""

PAIN = Measurement(
    name="pain",
    tags=("runner", "team", "timing"),
    fields={"score": int, "decision": str, "worsening": bool, "flags": str, "report": str},
    optional={"run_id": str, "distance_m": float, "location": str},
)
"""A pain report at its time; `report` keeps it whole (JSON) so a restarted worker can read it back."""

ALERT = Measurement(
    name="alert",
    tags=("runner", "team", "rule", "severity"),
    fields={"message": str, "action": str, "id": str},
)
"""An alert at the event time that triggered it."""

MEASUREMENTS = (CADENCE, RUN, LOAD, PAIN, ALERT)


# --- the queries that read the store back -------------------------------------------------------


def _runner(runner: str) -> str:
    return runner.replace("\\", "\\\\").replace("'", "\\'")


def run_segments_of_query(runners: Sequence[str]) -> str:
    """Every stored run of each of `runners` with its segments, whatever its age (RULES.md §7), one
    series per runner: the stream's seed."""
    return f'SELECT "device", "segments" FROM "{RUN.name}" WHERE {_any_runner(runners)} GROUP BY "runner"'


def open_runs_query() -> str:
    """Runs not judged whole yet: a stream that stopped before judging them concludes them at start."""
    return f'SELECT "final", "runner" FROM "{RUN.name}" WHERE "final" = false'


def alert_ids_query(runner: str, days: int) -> str:
    return f'SELECT "id" FROM "{ALERT.name}" WHERE "runner" = \'{_runner(runner)}\' AND time > now() - {days}d'


def runs_query(runner: str, days: int) -> str:
    return (
        f'SELECT "device", "run_id", "end_ms", "km", "samples", "cadence_spm", "duplicate_of" FROM "{RUN.name}" '
        f"WHERE \"runner\" = '{_runner(runner)}' AND time > now() - {days}d"
    )


def reports_query(runner: str, days: int) -> str:
    return f'SELECT "report" FROM "{PAIN.name}" WHERE "runner" = \'{_runner(runner)}\' AND time > now() - {days}d'


READ_BACK_CHUNK = 100
"""Runners read back by one query of `alert_ids_of_query`, `runs_of_query`, `reports_of_query` and
`run_segments_of_query`: keeps a query a few kilobytes long and its answer a few thousand rows (80
days of a runner's runs are ~50)."""


def _any_runner(runners: Sequence[str]) -> str:
    """A condition true for any of `runners`: tag equalities, which the store's index answers directly
    and which need no regular-expression escaping (runner names may hold `.` and `-`)."""
    return "(" + " OR ".join(f"\"runner\" = '{_runner(runner)}'" for runner in runners) + ")"


def alert_ids_of_query(runners: Sequence[str], days: int) -> str:
    """`alert_ids_query` for several runners at once, one series per runner."""
    return f'SELECT "id" FROM "{ALERT.name}" WHERE {_any_runner(runners)} AND time > now() - {days}d GROUP BY "runner"'


def runs_of_query(runners: Sequence[str], days: int) -> str:
    """`runs_query` for several runners at once, one series per runner."""
    return (
        f'SELECT "device", "run_id", "end_ms", "km", "samples", "cadence_spm", "duplicate_of" FROM "{RUN.name}" '
        f'WHERE {_any_runner(runners)} AND time > now() - {days}d GROUP BY "runner"'
    )


def reports_of_query(runners: Sequence[str], days: int) -> str:
    """`reports_query` for several runners at once, one series per runner."""
    return (
        f'SELECT "report" FROM "{PAIN.name}" WHERE {_any_runner(runners)} AND time > now() - {days}d GROUP BY "runner"'
    )


def report_at_query(runner: str, ts_ms: int) -> str:
    return (
        f'SELECT "score", "timing", "flags" FROM "{PAIN.name}" '
        f"WHERE \"runner\" = '{_runner(runner)}' AND time = {int(ts_ms)}ms"
    )


def recent_alerts_query(runner: str, days: int, limit: int) -> str:
    return (
        f'SELECT "rule", "severity", "message" FROM "{ALERT.name}" '
        f"WHERE \"runner\" = '{_runner(runner)}' AND time > now() - {days}d ORDER BY time DESC LIMIT {limit}"
    )


def earlier_alerts_query(runner: str, days: int, limit: int) -> str:
    """The latest alerts older than `days`: history's, stored but not published (RULES.md §7)."""
    return (
        f'SELECT "rule", "severity", "message" FROM "{ALERT.name}" '
        f"WHERE \"runner\" = '{_runner(runner)}' AND time <= now() - {days}d ORDER BY time DESC LIMIT {limit}"
    )


def runners_query() -> str:
    """Every runner with a run in the store: the runners the service knows."""
    return f'SHOW TAG VALUES FROM "{RUN.name}" WITH KEY = "runner"'


EXPORTED = (RUN, LOAD, PAIN, ALERT)
"""What `footpod-monitor export` hands a runner: runs, load, pain and alerts (cadence is the raw series)."""


def runner_all_query(measurement: Measurement, runner: str) -> str:
    """Every point of a runner in a measurement, all time, oldest first."""
    return f'SELECT * FROM "{measurement.name}" WHERE "runner" = \'{_runner(runner)}\' ORDER BY time ASC'


def runner_count_query(measurement: Measurement, runner: str) -> str:
    """How many points the runner has in a measurement: one row of `count_<field>` columns."""
    return f'SELECT count(*) FROM "{measurement.name}" WHERE "runner" = \'{_runner(runner)}\''


def runner_drop_query(runner: str) -> str:
    """InfluxDB 1.x: drop every series of the runner, in every measurement."""
    return f"DROP SERIES WHERE \"runner\" = '{_runner(runner)}'"


def runner_delete_predicate(runner: str) -> str:
    """InfluxDB 2.x delete API: the predicate of every point of the runner."""
    return 'runner="' + runner.replace("\\", "\\\\").replace('"', '\\"') + '"'


def alert_ids(rows: list[dict[str, Any]]) -> set[str]:
    return {row["id"] for row in rows if isinstance(row.get("id"), str)}


def runs(rows: list[dict[str, Any]]) -> tuple[RunSummary, ...]:
    """The newest version of each run (by `run_id`) that counts, ordered by end: a run another
    source's run replaces, or whose start moved earlier (`duplicate_of`), is counted as that one."""
    by_id: dict[str, RunSummary] = {}
    for row in rows:
        if row.get("duplicate_of"):
            continue
        if isinstance(row.get("run_id"), str) and isinstance(row.get("end_ms"), (int, float)):
            by_id[row["run_id"]] = RunSummary(
                run_id=row["run_id"],
                device_id=row["device"],
                start_ms=int(row["time"]),
                end_ms=int(row["end_ms"]),
                km=float(row.get("km") or 0.0),
                samples=int(row.get("samples") or 0),
                cadence_spm=row.get("cadence_spm"),
            )
    return tuple(sorted(by_id.values(), key=lambda run: run.end_ms))


def reports(rows: list[dict[str, Any]]) -> list[PainReport]:
    stored = []
    for row in rows:
        if isinstance(row.get("report"), str):
            try:
                stored.append(PainReport.model_validate(json.loads(row["report"])))
            except (ValueError, ValidationError) as error:
                raise StoreReadError(f"a stored pain report does not parse: {error}") from error
    return stored


async def read(query: Query, influxql: str) -> list[dict[str, Any]]:
    """Rows of `influxql`; raises StoreReadError when the store does not answer."""
    try:
        return await query(influxql)
    except StoreReadError:
        raise
    except Exception as error:  # the seam's transport and server errors, whatever the client
        raise StoreReadError(f"the store did not answer {influxql!r}: {error}") from error


async def read_runners(query: Query) -> set[str]:
    return {row["value"] for row in await read(query, runners_query()) if isinstance(row.get("value"), str)}


async def read_alert_ids(query: Query, runner: str, days: int) -> set[str]:
    return alert_ids(await read(query, alert_ids_query(runner, days)))


async def read_runs(query: Query, runner: str, days: int) -> tuple[RunSummary, ...]:
    return runs(await read(query, runs_query(runner, days)))


async def read_reports(query: Query, runner: str, days: int) -> list[PainReport]:
    return reports(await read(query, reports_query(runner, days)))


async def _read_each(
    query: Query, runners: Sequence[str], influxql: Callable[[Sequence[str]], str], parse: Callable[[list], Any]
) -> dict[str, Any]:
    """`parse` of each runner's rows, read `READ_BACK_CHUNK` runners a query; a runner with no rows
    gets `parse([])`. Raises StoreReadError when the store does not answer any one of the queries."""
    wanted = list(dict.fromkeys(runners))
    found: dict[str, list[dict[str, Any]]] = {runner: [] for runner in wanted}
    for start in range(0, len(wanted), READ_BACK_CHUNK):
        for row in await read(query, influxql(wanted[start : start + READ_BACK_CHUNK])):
            rows = found.get(row.get("runner"))
            if rows is not None:
                rows.append(row)
    return {runner: parse(rows) for runner, rows in found.items()}


async def read_alert_ids_of(query: Query, runners: Sequence[str], days: int) -> dict[str, set[str]]:
    """`read_alert_ids` of each runner, in a query per `READ_BACK_CHUNK` runners."""
    return await _read_each(query, runners, lambda chunk: alert_ids_of_query(chunk, days), alert_ids)


async def read_runs_of(query: Query, runners: Sequence[str], days: int) -> dict[str, tuple[RunSummary, ...]]:
    """`read_runs` of each runner, in a query per `READ_BACK_CHUNK` runners."""
    return await _read_each(query, runners, lambda chunk: runs_of_query(chunk, days), runs)


async def read_reports_of(query: Query, runners: Sequence[str], days: int) -> dict[str, list[PainReport]]:
    """`read_reports` of each runner, in a query per `READ_BACK_CHUNK` runners."""
    return await _read_each(query, runners, lambda chunk: reports_of_query(chunk, days), reports)
