"""The coaches' Grafana dashboards as pure functions, and the writer of their JSON files.

Every panel reads InfluxDB through the provisioned data source `footpod-influxdb` with InfluxQL,
which InfluxDB 1.x, 2.x (DBRP mapping) and 3.x all run (CONTRACT.md, "Time series"). Every panel
query keeps to the dashboard's time range (`$timeFilter`) and to its template variables.

`python -m dashboards.build` rewrites `dashboards/json/`; a unit test fails while the committed
files differ from what this module builds.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import statetimeline, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from footpod import thresholds
from footpod.settings import Settings
from footpod.thresholds import GATE_SEVERITY, GATES

DATASOURCE_UID = "footpod-influxdb"
DATASOURCE = model.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
JSON_DIR = Path(__file__).resolve().parent / "json"
TEAM_LOAD_UID = "footpod-team-load"
RUNNER_DETAIL_UID = "footpod-runner-detail"
DASHBOARD_TAGS = ["footpod"]

# Colour bands. The numbers belong to the alert rules; RULES.md names the source of each.
# The rules' own thresholds (footpod/thresholds.py), so a panel turns colour where an alert fires.
PROGRESSION_LIMIT_PCT = thresholds.MAX_WEEKLY_INCREASE * 100  # % week on week; RULES.md §2 `progression`
ACWR_SWEET_SPOT_FROM = 0.8  # ratio; lower end of Gabbett 2016's "sweet spot" 0.8–1.3 (no rule fires below)
ACWR_ELEVATED_ABOVE = thresholds.ACWR_ELEVATED  # ratio; RULES.md §2 `acwr_elevated`
ACWR_HIGH_ABOVE = thresholds.ACWR_HIGH  # ratio; RULES.md §2 `acwr_high`
CADENCE_LOW_BELOW_SPM = thresholds.CADENCE_LOW_SPM  # spm; RULES.md §4 `cadence_low`
CADENCE_DROP_AT_PCT = thresholds.CADENCE_DROP_PCT  # % against baseline; RULES.md §4 `cadence_drop`
PAIN_CONTINUE_FROM = 1  # NRS 0–10; RULES.md §3 `continue_no_increase`
PAIN_MAINTAIN_FROM = thresholds.PAIN_MAINTAIN  # NRS 0–10; RULES.md §3 `maintain`
PAIN_REDUCE_FROM = thresholds.PAIN_REDUCE  # NRS 0–10; RULES.md §3 `reduce_volume`
# RULES.md §1: samples below this cadence are walking or standing; the stream leaves them out of a
# run's cadence, so the cadence panel does too (the setting's default: dashboards are built once).
RUNNING_CADENCE_SPM = Settings.model_fields["running_cadence_spm"].default
OPEN_ALERT_DAYS = thresholds.GATE_HOLD_DAYS  # an alert is open for the 7 days a decision holds at least
SEVERITY_COLOURS = {"info": "blue", "warning": "orange", "critical": "red"}
# The pain gate's colour is the severity of its decision (RULES.md §3); `progress` is the all-clear.
GATE_COLOURS = {gate: "green" if gate == "progress" else SEVERITY_COLOURS[GATE_SEVERITY[gate]] for gate in GATES}
RED_FLAG_COLOUR = "red"
RECENT_ALERTS_SHOWN = 100

TEAM_FILTER = '"team" =~ /^$team$/'
RUNNER_FILTER = '"runner" =~ /^$runner$/'
TEAM_AND_RUNNER = (TEAM_FILTER, RUNNER_FILTER)
RUNNER_ONLY = (RUNNER_FILTER,)
EACH_INTERVAL_PER_RUNNER = 'GROUP BY time($__interval), "runner" fill(none)'
EACH_INTERVAL_PER_TIMING = 'GROUP BY time($__interval), "timing" fill(none)'
EACH_INTERVAL = "GROUP BY time($__interval) fill(none)"
EACH_DAY = "GROUP BY time(1d) fill(none)"
PER_RUNNER = 'GROUP BY "runner"'
NEWEST_FIRST = "ORDER BY time DESC"


# --- InfluxQL -------------------------------------------------------------------------------


def influxql(selection: str, measurement: str, filters: Sequence[str], tail: str = "") -> str:
    """A SELECT on one measurement, kept to `filters` and to the dashboard's time range."""
    where = " AND ".join([*filters, "$timeFilter"])
    statement = f'SELECT {selection} FROM "{measurement}" WHERE {where}'
    return f"{statement} {tail}" if tail else statement


def last_per_runner(measurement: str, field: str, filters: Sequence[str]) -> str:
    """The last value of `field` in each dashboard interval, one series per runner."""
    return influxql(f'last("{field}")', measurement, filters, EACH_INTERVAL_PER_RUNNER)


def columns(*names: str) -> str:
    """A selection of fields and tags by name, in the given order."""
    return ", ".join(f'"{name}"' for name in names)


def latest_columns(*fields: str) -> str:
    """A selection of each field's latest value, named after the field."""
    return ", ".join(f'last("{field}") AS "{field}"' for field in fields)


def from_subqueries(selection: str, subqueries: Sequence[str], tail: str = "") -> str:
    """A SELECT over the rows of `subqueries` taken together, kept to the dashboard's time range."""
    sources = ", ".join(f"({subquery})" for subquery in subqueries)
    statement = f"SELECT {selection} FROM {sources} WHERE $timeFilter"
    return f"{statement} {tail}" if tail else statement


def one_of(field: str, values: Iterable[str]) -> str:
    """A filter on a string field taking any of `values`."""
    return f'"{field}" =~ /^({"|".join(sorted(values))})$/'


def gates_by_factor() -> dict[float, list[str]]:
    """The pain gates grouped by the factor on last week's km each allows (RULES.md §2 budget)."""
    grouped: dict[float, list[str]] = {}
    for gate, factor in thresholds.GATE_FACTORS.items():
        grouped.setdefault(factor, []).append(gate)
    return grouped


def allowed_km(filters: Sequence[str], tail: str) -> str:
    """The km the gate in force allowed at each load point: last week's km times the gate's factor.

    The store keeps `prev_week_km` and the `gate`, not the product; one subquery per factor
    multiplies the points whose gate has that factor, and the outer query reads them as one.
    """
    subqueries = [
        influxql(
            f'"prev_week_km" * {factor:g} AS "allowed_km"',
            "load",
            [*filters, '"prev_week_km" > 0', one_of("gate", gates)],
        )
        for factor, gates in gates_by_factor().items()
    ]
    return from_subqueries('last("allowed_km") AS "allowed_km"', subqueries, tail)


def tag_values(measurement: str, key: str, filters: Sequence[str] = ()) -> str:
    """The values of tag `key` on `measurement`, kept to `filters` when given."""
    statement = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"'
    return f"{statement} WHERE {' AND '.join(filters)}" if filters else statement


@dataclass(frozen=True)
class InfluxQLTarget(Dataquery, Builder[Dataquery]):
    """A raw InfluxQL query of a panel, in the shape Grafana's InfluxDB data source saves it.

    The SDK has no InfluxDB query type: this one serialises like its own (`to_json`) and is its
    own builder, so panels take it with `with_target`.
    """

    query: str
    ref_id: str = "A"
    alias: str = ""
    result_format: str = "time_series"

    def build(self) -> Dataquery:
        return self

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "datasource": DATASOURCE.to_json(),
            "query": self.query,
            "rawQuery": True,
            "refId": self.ref_id,
            "resultFormat": self.result_format,
        }
        if self.alias:
            payload["alias"] = self.alias
        return payload


def series(query: str, alias: str, ref_id: str = "A") -> InfluxQLTarget:
    """A time-series target whose series Grafana names by `alias` (`$tag_runner` and the like)."""
    return InfluxQLTarget(query=query, ref_id=ref_id, alias=alias)


def rows(query: str) -> InfluxQLTarget:
    """A target read as one table."""
    return InfluxQLTarget(query=query, result_format="table")


# --- Colours --------------------------------------------------------------------------------


def bands(base_colour: str, *steps: tuple[float, str]) -> dashboard_builders.ThresholdsConfig:
    """Absolute colour bands: `base_colour` below the first step, each step's colour from its value up."""
    thresholds = [model.Threshold(value=None, color=base_colour)]
    thresholds += [model.Threshold(value=value, color=colour) for value, colour in steps]
    return dashboard_builders.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(thresholds)


def change_pct_bands() -> dashboard_builders.ThresholdsConfig:
    """Red from the weekly progression limit up."""
    return bands("green", (PROGRESSION_LIMIT_PCT, "red"))


def acwr_bands() -> dashboard_builders.ThresholdsConfig:
    """Blue under the sweet spot, green in it, orange when elevated, red when high."""
    return bands(
        "blue",
        (ACWR_SWEET_SPOT_FROM, "green"),
        (ACWR_ELEVATED_ABOVE, "orange"),
        (ACWR_HIGH_ABOVE, "red"),
    )


def cadence_bands() -> dashboard_builders.ThresholdsConfig:
    """Orange under the low-cadence line, green from it up."""
    return bands("orange", (CADENCE_LOW_BELOW_SPM, "green"))


def cadence_change_bands() -> dashboard_builders.ThresholdsConfig:
    """Red under the cadence-drop line, green from it up."""
    return bands("red", (CADENCE_DROP_AT_PCT, "green"))


def pain_bands() -> dashboard_builders.ThresholdsConfig:
    """Green at no pain, then yellow, orange and red as the pain gate tightens."""
    return bands(
        "green",
        (PAIN_CONTINUE_FROM, "yellow"),
        (PAIN_MAINTAIN_FROM, "orange"),
        (PAIN_REDUCE_FROM, "red"),
    )


def coloured_cells(thresholds: dashboard_builders.ThresholdsConfig) -> list[model.DynamicConfigValue]:
    """Table-column settings that colour each cell's text by `thresholds`."""
    return [
        model.DynamicConfigValue(id_val="thresholds", value=thresholds.build()),
        model.DynamicConfigValue(id_val="color", value={"mode": "thresholds"}),
        model.DynamicConfigValue(id_val="custom.cellOptions", value=common.TableColorTextCellOptions()),
    ]


def severity_cells() -> list[model.DynamicConfigValue]:
    """Table-column settings that colour an alert's severity: info blue, warning orange, critical red."""
    by_severity = {
        severity: model.ValueMappingResult(color=colour, index=index)
        for index, (severity, colour) in enumerate(SEVERITY_COLOURS.items())
    }
    return [
        model.DynamicConfigValue(id_val="mappings", value=[model.ValueMap(options=by_severity)]),
        model.DynamicConfigValue(id_val="custom.cellOptions", value=common.TableColorTextCellOptions()),
    ]


def gate_mappings() -> list[model.ValueMap]:
    """Each pain gate in its colour (`GATE_COLOURS`)."""
    by_gate = {
        gate: model.ValueMappingResult(color=colour, index=index)
        for index, (gate, colour) in enumerate(GATE_COLOURS.items())
    }
    return [model.ValueMap(options=by_gate)]


def gate_cells() -> list[model.DynamicConfigValue]:
    """Table-column settings that colour the pain gate in force."""
    return [
        model.DynamicConfigValue(id_val="mappings", value=gate_mappings()),
        model.DynamicConfigValue(id_val="custom.cellOptions", value=common.TableColoredBackgroundCellOptions()),
    ]


def red_flag_cells() -> list[model.DynamicConfigValue]:
    """Table-column settings that turn any red flag red (no flags stay plain)."""
    any_flag = model.RegexMap(
        options=model.DashboardRegexMapOptions(
            pattern=".+", result=model.ValueMappingResult(color=RED_FLAG_COLOUR, index=0)
        )
    )
    return [
        model.DynamicConfigValue(id_val="mappings", value=[any_flag]),
        model.DynamicConfigValue(id_val="custom.cellOptions", value=common.TableColorTextCellOptions()),
    ]


def unit_of(unit: str) -> list[model.DynamicConfigValue]:
    """Table-column settings that show values in Grafana's `unit`."""
    return [model.DynamicConfigValue(id_val="unit", value=unit)]


def dashed_line() -> list[model.DynamicConfigValue]:
    """Series settings that draw a dashed line."""
    dashes = common.LineStyle(fill="dash", dash=[10, 10])
    return [model.DynamicConfigValue(id_val="custom.lineStyle", value=dashes)]


def runner_detail_link() -> list[model.DynamicConfigValue]:
    """Table-column settings that link a runner's name to their detail dashboard."""
    url = f"/d/{RUNNER_DETAIL_UID}?var-runner=${{__value.raw}}&${{__url_time_range}}"
    return [model.DynamicConfigValue(id_val="links", value=[{"title": "Runner detail", "url": url}])]


# --- Panels ---------------------------------------------------------------------------------


def time_series(title: str, description: str, unit: str, *targets: InfluxQLTarget) -> timeseries.Panel:
    """A half-width time-series panel of `targets` on the footpod data source."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(12)
        .height(8)
        .span_nulls(True)
    )
    for target in targets:
        panel.with_target(target)
    return panel


def banded(panel: timeseries.Panel, thresholds: dashboard_builders.ThresholdsConfig) -> timeseries.Panel:
    """`panel` with `thresholds` drawn as dashed lines over shaded bands."""
    style = common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED_AND_AREA)
    return panel.thresholds(thresholds).thresholds_style(style)


def full_width_table(title: str, description: str, target: InfluxQLTarget) -> table.Panel:
    """A full-width table panel of one target on the footpod data source."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .span(24)
        .height(9)
        .with_target(target)
    )


def alerts_table(filters: Sequence[str]) -> table.Panel:
    """The newest alerts, newest first, with severity coloured."""
    query = influxql(
        columns("runner", "severity", "rule", "action", "message"),
        "alert",
        filters,
        f"{NEWEST_FIRST} LIMIT {RECENT_ALERTS_SHOWN}",
    )
    return full_width_table(
        "Recent alerts",
        f"The newest {RECENT_ALERTS_SHOWN} alerts in the time range, as runners received them.",
        rows(query),
    ).override_by_name("severity", severity_cells())


# --- Template variables ---------------------------------------------------------------------


def tag_variable(
    name: str, label: str, query: str, *, multi: bool, include_all: bool
) -> dashboard_builders.QueryVariable:
    """A drop-down of tag values, read again whenever the dashboard loads."""
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(multi)
        .include_all(include_all)
    )


def link_to(uid: str, title: str) -> dashboard_builders.DashboardLink:
    """A header link to another footpod dashboard that carries the time range and variables along."""
    return (
        dashboard_builders.DashboardLink(title)
        .type(model.DashboardLinkType.LINK)
        .url(f"/d/{uid}")
        .include_vars(True)
        .keep_time(True)
    )


# --- Dashboards -----------------------------------------------------------------------------


def as_plain_json(dashboard: model.Dashboard) -> dict[str, object]:
    """The dashboard as plain JSON data (dicts, lists, strings, numbers)."""
    return json.loads(json.dumps(dashboard, cls=JSONEncoder))


Panel = timeseries.Panel | table.Panel | statetimeline.Panel


def assemble(
    builder: dashboard_builders.Dashboard,
    variables: Iterable[dashboard_builders.QueryVariable],
    panels: Iterable[Panel],
) -> dict[str, object]:
    """The dashboard with its variables and its panels numbered 1, 2, … and laid out in order."""
    builder.tags(DASHBOARD_TAGS).timezone("browser")
    for variable in variables:
        builder.with_variable(variable)
    for panel_id, panel in enumerate(panels, start=1):
        builder.with_panel(panel.id(panel_id))
    return as_plain_json(builder.build())


def team_load() -> dict[str, object]:
    """The "Team overview" dashboard: a row per runner with what a coach acts on, the team's open
    alerts, its load over the season, and each runner's load over time."""
    builder = (
        dashboard_builders.Dashboard("Team overview")
        .uid(TEAM_LOAD_UID)
        .description("Training load, pain gate and alerts of a team's runners, against the limits of RULES.md.")
        .time("now-90d", "now")
        .refresh("5m")
        .link(link_to(RUNNER_DETAIL_UID, "Runner detail"))
    )
    variables = [
        tag_variable("team", "Team", tag_values("load", "team"), multi=False, include_all=True),
        tag_variable("runner", "Runner", tag_values("load", "runner", (TEAM_FILTER,)), multi=True, include_all=True),
    ]
    return assemble(builder, variables, team_load_panels())


def team_load_panels() -> list[Panel]:
    """The panels of "Team overview", in reading order."""
    weekly_km = time_series(
        "Weekly km",
        "Distance of the trailing 7 days (solid) and of the 7 days before them (dashed).",
        "lengthkm",
        series(last_per_runner("load", "week_km", TEAM_AND_RUNNER), "$tag_runner", "A"),
        series(last_per_runner("load", "prev_week_km", TEAM_AND_RUNNER), "$tag_runner, week before", "B"),
    ).override_by_regexp(".*, week before$", dashed_line())
    change = time_series(
        "Week-on-week change",
        f"Change of weekly km against the week before; above +{PROGRESSION_LIMIT_PCT:g} % the runner is told to hold.",
        "percent",
        series(last_per_runner("load", "change_pct", TEAM_AND_RUNNER), "$tag_runner"),
    )
    acwr = time_series(
        "Acute:chronic workload ratio",
        f"Weekly km over the 28-day weekly average; {ACWR_SWEET_SPOT_FROM:g}–{ACWR_ELEVATED_ABOVE:g} "
        f"is the sweet spot, above {ACWR_HIGH_ABOVE:g} the risk is highest.",
        "none",
        series(last_per_runner("load", "acwr", TEAM_AND_RUNNER), "$tag_runner"),
    ).decimals(2)
    budget = time_series(
        "Budget left this week",
        "Kilometres each runner may still run in the current 7-day window under the gate in force.",
        "lengthkm",
        series(last_per_runner("load", "budget_km", TEAM_AND_RUNNER), "$tag_runner"),
    ).min(0)
    return [
        runners_table(),
        open_alerts_table(),
        team_season(),
        weekly_km,
        banded(change, change_pct_bands()),
        banded(acwr, acwr_bands()),
        budget,
        alerts_table(TEAM_AND_RUNNER),
    ]


def runners_table() -> table.Panel:
    """One row per runner: the latest load against what the gate allows, ACWR, the gate in force,
    the shoe's km and the last alert, each coloured by the rules' bands."""
    load = influxql(
        latest_columns("week_km", "prev_week_km", "change_pct", "acwr", "acwr_ewma", "budget_km", "gate"),
        "load",
        TEAM_AND_RUNNER,
        PER_RUNNER,
    )
    shoe = influxql('last("device_km") AS "shoe_km"', "run", TEAM_AND_RUNNER, PER_RUNNER)
    last_alert = influxql('last("message") AS "last_alert", "rule", "severity"', "alert", TEAM_AND_RUNNER, PER_RUNNER)
    panel = (
        table.Panel()
        .title("Runners")
        .description(
            "Each runner's newest figures in the time range: km of the trailing 7 days against the km the "
            "gate in force allows (last week's km times the gate's factor) and the budget left, week-on-week "
            f"change, ACWR (rolling and EWMA; sweet spot {ACWR_SWEET_SPOT_FROM:g}–{ACWR_ELEVATED_ABOVE:g}, high "
            f"above {ACWR_HIGH_ABOVE:g}), the pain gate, the km on the shoe of the last run, and the last alert. "
            "The return-to-run phase is not stored in InfluxDB: `footpod-monitor status RUNNER` shows it."
        )
        .datasource(DATASOURCE)
        .span(24)
        .height(10)
        .with_target(InfluxQLTarget(query=load, ref_id="A", result_format="table"))
        .with_target(InfluxQLTarget(query=allowed_km(TEAM_AND_RUNNER, PER_RUNNER), ref_id="B", result_format="table"))
        .with_target(InfluxQLTarget(query=shoe, ref_id="C", result_format="table"))
        .with_target(InfluxQLTarget(query=last_alert, ref_id="D", result_format="table"))
        .with_transformation(join_by("runner"))
        .with_transformation(drop_time_columns())
        .with_transformation(
            column_order(
                "runner",
                "week_km",
                "allowed_km",
                "budget_km",
                "prev_week_km",
                "change_pct",
                "acwr",
                "acwr_ewma",
                "gate",
                "shoe_km",
                "last_alert",
                "rule",
                "severity",
            )
        )
        .override_by_name("runner", runner_detail_link())
        .override_by_name("week_km", unit_of("lengthkm"))
        .override_by_name("allowed_km", unit_of("lengthkm"))
        .override_by_name("budget_km", unit_of("lengthkm"))
        .override_by_name("prev_week_km", unit_of("lengthkm"))
        .override_by_name("shoe_km", unit_of("lengthkm"))
        .override_by_name("change_pct", unit_of("percent") + coloured_cells(change_pct_bands()))
        .override_by_name("acwr", coloured_cells(acwr_bands()))
        .override_by_name("acwr_ewma", coloured_cells(acwr_bands()))
        .override_by_name("gate", gate_cells())
        .override_by_name("severity", severity_cells())
    )
    return panel


def join_by(field: str) -> model.DataTransformerConfig:
    """A transformation that joins the queries' tables into one row per value of `field`."""
    return model.DataTransformerConfig(id_val="joinByField", options={"byField": field, "mode": "outer"})


def drop_time_columns() -> model.DataTransformerConfig:
    """A transformation that drops every Time column (latest values have no time of their own)."""
    return model.DataTransformerConfig(id_val="filterFieldsByName", options={"exclude": {"pattern": "^Time"}})


def column_order(*names: str) -> model.DataTransformerConfig:
    """A transformation that puts the columns in the given order."""
    return model.DataTransformerConfig(
        id_val="organize", options={"indexByName": {name: index for index, name in enumerate(names)}}
    )


def open_alerts_table() -> table.Panel:
    """The team's open alerts: the newest of each runner and rule in the trailing days the rules use."""
    query = influxql(
        'last("message") AS "message", "action"',
        "alert",
        [*TEAM_AND_RUNNER, f"time > now() - {OPEN_ALERT_DAYS}d"],
        'GROUP BY "runner", "rule", "severity"',
    )
    return (
        full_width_table(
            "Open alerts",
            f"The newest alert of each runner and rule raised in the last {OPEN_ALERT_DAYS} days "
            "(the window the rules look back on).",
            rows(query),
        )
        .override_by_name("runner", runner_detail_link())
        .override_by_name("severity", severity_cells())
    )


def team_sum_per_day(field: str) -> str:
    """The team's total of each runner's last `field` of the day."""
    per_runner = influxql(
        f'last("{field}") AS "{field}"', "load", TEAM_AND_RUNNER, 'GROUP BY time(1d), "runner" fill(none)'
    )
    return from_subqueries(f'sum("{field}") AS "{field}"', [per_runner], EACH_DAY)


def team_season() -> timeseries.Panel:
    """The team's weekly km and its 4-week average, day by day over the time range."""
    return (
        time_series(
            "Team load over the season",
            "Sum over the team's runners of the km of the trailing 7 days (solid) and of the 28-day weekly "
            "average (dashed), each runner's last figure of the day.",
            "lengthkm",
            series(team_sum_per_day("week_km"), "team week km", "A"),
            series(team_sum_per_day("chronic_week_km"), "team 4-week average", "B"),
        )
        .override_by_name("team 4-week average", dashed_line())
        .span(24)
    )


def runner_detail() -> dict[str, object]:
    """The "Runner detail" dashboard: one runner's load against the budget, ACWR, pain and gate,
    cadence against the baseline, runs and alerts."""
    builder = (
        dashboard_builders.Dashboard("Runner detail")
        .uid(RUNNER_DETAIL_UID)
        .description("One runner's load, pain reports and gate, cadence, runs and alerts.")
        .time("now-42d", "now")
        .refresh("30s")
        .link(link_to(TEAM_LOAD_UID, "Team overview"))
    )
    variables = [
        tag_variable("runner", "Runner", tag_values("cadence", "runner"), multi=False, include_all=False),
    ]
    return assemble(builder, variables, runner_detail_panels())


def runner_detail_panels() -> list[Panel]:
    """The panels of "Runner detail", in reading order."""
    week = (
        time_series(
            "Week km, allowed and budget",
            "Km of the trailing 7 days, the km the gate in force allows (last week's km times the gate's "
            "factor, RULES.md §2) and the budget left.",
            "lengthkm",
            series(influxql('last("week_km")', "load", RUNNER_ONLY, EACH_INTERVAL), "week km", "A"),
            series(allowed_km(RUNNER_ONLY, EACH_INTERVAL), "allowed", "B"),
            series(influxql('last("budget_km")', "load", RUNNER_ONLY, EACH_INTERVAL), "budget left", "C"),
        )
        .override_by_name("allowed", dashed_line())
        .min(0)
    )
    acwr = (
        time_series(
            "Acute:chronic workload ratio",
            f"Rolling (weekly km over the 28-day weekly average) and EWMA forms; {ACWR_SWEET_SPOT_FROM:g}–"
            f"{ACWR_ELEVATED_ABOVE:g} is the sweet spot, above {ACWR_HIGH_ABOVE:g} the risk is highest.",
            "none",
            series(influxql('last("acwr")', "load", RUNNER_ONLY, EACH_INTERVAL), "ACWR", "A"),
            series(influxql('last("acwr_ewma")', "load", RUNNER_ONLY, EACH_INTERVAL), "ACWR (EWMA)", "B"),
        )
        .decimals(2)
        .override_by_name("ACWR (EWMA)", dashed_line())
    )
    gate = (
        statetimeline.Panel()
        .title("Pain gate")
        .description("The pain gate in force at each load point (RULES.md §3), coloured by its severity.")
        .datasource(DATASOURCE)
        .span(24)
        .height(5)
        .with_target(series(influxql('last("gate")', "load", RUNNER_ONLY, EACH_INTERVAL), "gate"))
        .mappings(gate_mappings())
        .merge_values(True)
    )
    pain = (
        time_series(
            "Pain",
            "Reported knee pain (0–10), by when it was felt: during, after, or the next day.",
            "none",
            series(influxql('max("score")', "pain", RUNNER_ONLY, EACH_INTERVAL_PER_TIMING), "$tag_timing"),
        )
        .draw_style(common.GraphDrawStyle.POINTS)
        .point_size(8)
        .min(0)
        .max(10)
        .decimals(0)
    )
    run_cadence = (
        time_series(
            "Run cadence against baseline",
            "Each run's cadence (running samples only) and the runner's baseline it was compared with; "
            f"below {CADENCE_LOW_BELOW_SPM:g} spm is low.",
            "suffix:spm",
            series(
                influxql(
                    '"cadence_spm" AS "run", "cadence_spm" / (1 + "cadence_dev_pct" / 100) AS "baseline"',
                    "run",
                    RUNNER_ONLY,
                ),
                "$col",
            ),
        )
        .draw_style(common.GraphDrawStyle.POINTS)
        .point_size(8)
    )
    cadence = time_series(
        "Cadence while running",
        f"Steps per minute, both feet, of running samples only (from {RUNNING_CADENCE_SPM:g} spm up, as a "
        f"run's cadence is counted); below {CADENCE_LOW_BELOW_SPM:g} spm is low.",
        "suffix:spm",
        series(
            influxql('mean("spm")', "cadence", [*RUNNER_ONLY, f'"spm" >= {RUNNING_CADENCE_SPM:g}'], EACH_INTERVAL),
            "cadence",
        ),
    )
    cadence_change = (
        time_series(
            "Run cadence change",
            f"Each run's cadence change against the runner's baseline; {CADENCE_DROP_AT_PCT:g} % or lower is a drop.",
            "percent",
            series(influxql(columns("cadence_dev_pct"), "run", RUNNER_ONLY), "cadence change"),
        )
        .draw_style(common.GraphDrawStyle.POINTS)
        .point_size(8)
    )
    daily_km = (
        time_series(
            "Km per day",
            "Distance of the runs started on each day (UTC). A run stored in more than one version (its "
            "start moved when late samples joined it) counts once: the longest per footpod and hour.",
            "lengthkm",
            series(daily_km_query(), "km"),
        )
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
    )
    speed = time_series(
        "Speed",
        "Speed the footpod reports.",
        "velocityms",
        series(influxql('mean("speed_mps")', "cadence", RUNNER_ONLY, EACH_INTERVAL), "speed"),
    )
    return [
        week,
        banded(acwr, acwr_bands()),
        gate,
        banded(pain, pain_bands()),
        pain_reports_table(),
        banded(run_cadence, cadence_bands()),
        banded(cadence, cadence_bands()),
        banded(cadence_change, cadence_change_bands()),
        daily_km,
        speed,
        runs_table(),
        alerts_table(RUNNER_ONLY),
    ]


def daily_km_query() -> str:
    """Km per day with each run once: the longest version per footpod and hour, summed per day.

    A run's point sits at its start; when late samples move the start, the older version stays
    under the old time. `run_id` is a field, so InfluxQL cannot group by it: versions starting in
    the same hour are taken once (two runs of one footpod rarely start in the same hour; two a day
    are common, so the day is too coarse).
    """
    per_device = influxql('max("km") AS "km"', "run", RUNNER_ONLY, 'GROUP BY time(1h), "device" fill(none)')
    return from_subqueries('sum("km") AS "km"', [per_device], "GROUP BY time(1d) fill(0)")


def pain_reports_table() -> table.Panel:
    """The runner's pain reports, newest first: score, timing, red flags, location and the decision."""
    selection = columns("score", "timing", "flags", "location", "worsening", "distance_m", "decision", "run_id")
    query = influxql(selection, "pain", RUNNER_ONLY, NEWEST_FIRST)
    return (
        full_width_table(
            "Pain reports",
            "Every pain report in the time range, newest first: when it was felt, red flags (red), where it "
            "hurts, and the gate decision it gave (RULES.md §3).",
            rows(query),
        )
        .override_by_name("score", coloured_cells(pain_bands()))
        .override_by_name("flags", red_flag_cells())
        .override_by_name("decision", gate_cells())
        .override_by_name("distance_m", unit_of("lengthm"))
    )


def runs_table() -> table.Panel:
    """The runner's runs, newest first."""
    selection = columns("run_id", "device", "km", "duration_s", "cadence_spm", "cadence_dev_pct", "device_km")
    query = influxql(selection, "run", RUNNER_ONLY, NEWEST_FIRST)
    return (
        full_width_table("Runs", "Every run in the time range, newest first.", rows(query))
        .override_by_name("km", unit_of("lengthkm"))
        .override_by_name("duration_s", unit_of("dthms"))
        .override_by_name("cadence_spm", unit_of("suffix:spm"))
        .override_by_name("cadence_dev_pct", unit_of("percent") + coloured_cells(cadence_change_bands()))
        .override_by_name("device_km", unit_of("lengthkm"))
    )


# --- Files ----------------------------------------------------------------------------------


def dashboards() -> dict[str, dict[str, object]]:
    """Every dashboard, by its file name under `dashboards/json/`."""
    return {"team-load.json": team_load(), "runner-detail.json": runner_detail()}


def render(dashboard: dict[str, object]) -> str:
    """Pretty JSON with sorted keys and a trailing newline: the same dashboard always gives the same text."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(out_dir: Path) -> list[Path]:
    """Write every dashboard into `out_dir` (created if missing) and return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, dashboard in dashboards().items():
        path = out_dir / file_name
        path.write_text(render(dashboard), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the dashboard files (by default the committed ones) and list them."""
    parser = argparse.ArgumentParser(prog="python -m dashboards.build", description=main.__doc__)
    parser.add_argument("--out-dir", type=Path, default=JSON_DIR, help=f"where to write (default {JSON_DIR})")
    arguments = parser.parse_args(argv)
    for path in write_all(arguments.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
