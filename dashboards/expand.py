"""Grafana's template variables in a panel's InfluxQL, expanded as Grafana's InfluxDB data source
expands them, so the same queries run outside Grafana (the local team page, the tests).

Pure: the caller picks the values, the time range and the interval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

VARIABLE = re.compile(r"\$\{(?P<braced>\w+)\}|\$(?P<plain>\w+)")
INTERVAL = re.compile(r"^(?P<count>[0-9]+)(?P<unit>ms|s|m|h|d|w)$")
UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


@dataclass(frozen=True)
class TimeRange:
    """A dashboard time range: relative (`now() - 90d` to now) or absolute epoch milliseconds."""

    since: str = "now() - 90d"
    until: str = "now()"

    @classmethod
    def last(cls, duration: str) -> TimeRange:
        """The last `duration` (an InfluxQL duration such as `90d`) up to now."""
        return cls(since=f"now() - {duration}")

    @classmethod
    def between(cls, from_ms: int, to_ms: int) -> TimeRange:
        return cls(since=f"{from_ms}ms", until=f"{to_ms}ms")

    @property
    def influxql(self) -> str:
        """`$timeFilter` as Grafana writes it."""
        return f"time >= {self.since} and time <= {self.until}"


def regex_value(values: Sequence[str]) -> str:
    """Values of a variable used inside `/…/`: each escaped, several as `(a|b)` (Grafana's regex format)."""
    escaped = [re.escape(value) for value in values]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def interval_ms(interval: str) -> int:
    """`$__interval` (`10s`, `1h`, `1d` …) in milliseconds."""
    parsed = INTERVAL.match(interval)
    if not parsed:
        raise ValueError(f"not a Grafana interval: {interval!r}")
    return int(parsed["count"]) * UNIT_MS[parsed["unit"]]


def expand(query: str, variables: Mapping[str, Sequence[str]], time_range: TimeRange, interval: str = "1h") -> str:
    """`query` with `$timeFilter`, `$__interval`, `$__interval_ms` and the template variables
    replaced; a variable with no value, or one the caller does not name, is an error."""
    builtins = {
        "timeFilter": time_range.influxql,
        "__interval": interval,
        "__interval_ms": str(interval_ms(interval)),
    }

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        if name in builtins:
            return builtins[name]
        if name.startswith("tag_") or name == "col":
            return match[0]  # alias patterns; Grafana names series with them, the store never sees them
        values = variables.get(name)
        if not values:
            raise KeyError(f"no value for ${name} in: {query}")
        return regex_value(values)

    return VARIABLE.sub(replace, query)


def template_variables(dashboard: Mapping) -> list[str]:
    """The names of a dashboard's template variables, in order."""
    return [variable["name"] for variable in dashboard["templating"]["list"]]


def panel_targets(dashboard: Mapping) -> Iterable[tuple[Mapping, Mapping]]:
    """(panel, target) for every query of every panel, rows' panels included."""
    for panel in dashboard.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner, target
