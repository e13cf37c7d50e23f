"""Grafana's template variables expanded in the dashboards' InfluxQL, as Grafana does."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards import build
from dashboards.expand import TimeRange, expand, interval_ms, panel_targets, regex_value, template_variables

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", min_size=1, max_size=16)


@given(chosen=st.lists(NAMES, min_size=1, max_size=6, unique=True), others=st.lists(NAMES, max_size=6))
def test_a_variable_in_a_regex_matches_exactly_the_chosen_names(chosen: list[str], others: list[str]) -> None:
    """`/^$runner$/` expanded with some names matches each of them and no other name (dots included)."""
    pattern = re.compile(f"^{regex_value(chosen)}$")

    for name in chosen:
        assert pattern.match(name)
    for name in set(others) - set(chosen):
        assert not pattern.match(name)


def test_time_filter_interval_and_variables_are_replaced() -> None:
    """Every `$…` the store would see is replaced; alias patterns are left to Grafana."""
    query = (
        'SELECT last("km") FROM "run" WHERE "runner" =~ /^$runner$/ AND "team" =~ /^${team}$/ '
        "AND $timeFilter GROUP BY time($__interval)"
    )

    expanded = expand(query, {"runner": ["ann", "ben"], "team": ["a.b"]}, TimeRange.last("30d"), "10s")

    assert expanded == (
        'SELECT last("km") FROM "run" WHERE "runner" =~ /^(ann|ben)$/ AND "team" =~ /^a\\.b$/ '
        "AND time >= now() - 30d and time <= now() GROUP BY time(10s)"
    )
    assert expand("$tag_runner $col", {}, TimeRange()) == "$tag_runner $col"


def test_an_absolute_range_is_in_epoch_milliseconds() -> None:
    assert TimeRange.between(1_000, 2_000).influxql == "time >= 1000ms and time <= 2000ms"


def test_a_variable_without_a_value_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"\$runner"):
        expand('SELECT "km" FROM "run" WHERE "runner" =~ /^$runner$/', {}, TimeRange())


@pytest.mark.parametrize(("interval", "ms"), [("10s", 10_000), ("1h", 3_600_000), ("1d", 86_400_000), ("250ms", 250)])
def test_interval_in_milliseconds(interval: str, ms: int) -> None:
    assert interval_ms(interval) == ms


@pytest.mark.parametrize("file_name", sorted(build.dashboards()))
def test_every_panel_query_of_the_dashboards_expands_to_plain_influxql(file_name: str) -> None:
    """With each template variable given, no `$name` is left in any panel query (the store would refuse
    it); only the regex anchors `$/` stay."""
    dashboard = build.dashboards()[file_name]
    values = {name: ["x"] for name in template_variables(dashboard)}
    targets = list(panel_targets(dashboard))

    assert targets
    for _, target in targets:
        assert not re.search(r"\$[\w{]", expand(target["query"], values, TimeRange(), "1h"))
