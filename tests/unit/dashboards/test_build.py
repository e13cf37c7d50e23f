"""The Grafana dashboards built as code, their committed JSON, and Grafana's provisioning files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dashboards import build
from footpod import schema, thresholds
from footpod.settings import Settings
from footpod.thresholds import GATE_SEVERITY, GATES
from streams.segments import load_params

DASHBOARDS_DIR = Path(build.__file__).resolve().parent
COMMITTED_JSON_DIR = DASHBOARDS_DIR / "json"
DASHBOARD_PROVIDER = DASHBOARDS_DIR / "provisioning" / "dashboards" / "footpod.yml"
DATASOURCE_FILE = DASHBOARDS_DIR / "provisioning" / "datasources" / "influxdb.yml"
PROVISIONED_DATASOURCE_UID = "footpod-influxdb"
COMPOSE_MOUNT_OF_DASHBOARDS_JSON = "/etc/grafana/footpod-dashboards"

# CONTRACT.md, "Time series": the fields of each measurement ("at least"), and its tags (runner, team
# on all). What the writers store besides is the schema's (footpod/schema.py), which panels read too.
CONTRACT_FIELDS = {
    "cadence": {"spm", "speed_mps", "distance_m"},
    "run": {"km", "duration_s", "cadence_spm", "cadence_dev_pct"},
    "load": {"week_km", "prev_week_km", "change_pct", "chronic_week_km", "acwr", "acwr_ewma", "budget_km"},
    "pain": {"score"},
    "alert": {"message", "action"},
}
CONTRACT_TAGS = {
    "cadence": {"runner", "team"},
    "run": {"runner", "team"},
    "load": {"runner", "team"},
    "pain": {"runner", "team", "timing"},
    "alert": {"runner", "team", "rule", "severity"},
}
FIELDS = {m.name: set(m.fields) | set(m.optional) for m in schema.MEASUREMENTS}
TAGS = {m.name: set(m.tags) for m in schema.MEASUREMENTS}


def test_the_stores_schema_holds_at_least_what_the_contract_names() -> None:
    """Every field and tag CONTRACT.md names is in the schema the writers use, measurement by measurement."""
    assert set(FIELDS) == set(CONTRACT_FIELDS)
    for name in CONTRACT_FIELDS:
        assert CONTRACT_FIELDS[name] <= FIELDS[name], name
        assert CONTRACT_TAGS[name] <= TAGS[name], name


SELECT = re.compile(r'^SELECT (?P<selection>.+?) FROM "(?P<measurement>[^"]+)" (?P<rest>WHERE .*)$')
SELECT_FROM_SUBQUERIES = re.compile(
    r"^SELECT (?P<selection>.+?) FROM (?P<sources>\(SELECT .*\)) (?P<rest>WHERE (?:(?!SELECT ).)*)$"
)
GROUP_BY = re.compile(r"GROUP BY (?P<keys>.*?)(?: fill\(|$)")
ALIASES = re.compile(r'\s+AS\s+"([^"]*)"')
SHOW_TAG_VALUES = re.compile(
    r'^SHOW TAG VALUES FROM "(?P<measurement>[^"]+)" WITH KEY = "(?P<key>[^"]+)"(?: WHERE (?P<rest>.*))?$'
)
ALIAS = re.compile(r'\s+AS\s+"[^"]*"')
QUOTED_NAME = re.compile(r'"([^"]+)"')


def all_panels(dashboard: dict) -> Iterator[dict]:
    """Every panel of a dashboard, including those folded inside rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries() -> list[pytest.param]:
    """Every panel query of every dashboard, named by dashboard, panel and query letter."""
    return [
        pytest.param(file_name, dashboard, target["query"], id=f"{file_name}:{panel['title']}:{target['refId']}")
        for file_name, dashboard in build.dashboards().items()
        for panel in all_panels(dashboard)
        for target in panel["targets"]
    ]


def variable_queries() -> list[pytest.param]:
    """Every template-variable query of every dashboard, named by dashboard and variable."""
    return [
        pytest.param(variable["query"], id=f"{file_name}:{variable['name']}")
        for file_name, dashboard in build.dashboards().items()
        for variable in dashboard["templating"]["list"]
    ]


def names_in(clause: str) -> set[str]:
    """The double-quoted identifiers of an InfluxQL clause, leaving out `AS "alias"` names."""
    return set(QUOTED_NAME.findall(ALIAS.sub("", clause)))


def variable_names(dashboard: dict) -> list[str]:
    return [variable["name"] for variable in dashboard["templating"]["list"]]


def variable_named(dashboard: dict, name: str) -> dict:
    return next(variable for variable in dashboard["templating"]["list"] if variable["name"] == name)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- committed JSON ---------------------------------------------------------------------------


def test_committed_json_equals_freshly_generated_dashboards(tmp_path: Path) -> None:
    """The files under dashboards/json are exactly what `python -m dashboards.build` writes now."""
    written = build.write_all(tmp_path)

    assert sorted(path.name for path in written) == sorted(path.name for path in COMMITTED_JSON_DIR.glob("*.json"))
    for path in written:
        committed = (COMMITTED_JSON_DIR / path.name).read_text(encoding="utf-8")
        assert committed == path.read_text(encoding="utf-8"), (
            f"dashboards/json/{path.name} is stale: run `python -m dashboards.build`"
        )


def test_written_json_is_pretty_with_sorted_keys_and_a_trailing_newline(tmp_path: Path) -> None:
    """write_all writes two-space indented JSON, keys sorted, ending in one newline."""
    for path in build.write_all(tmp_path):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_main_writes_into_the_given_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """main --out-dir writes every dashboard there and prints each path written."""
    assert build.main(["--out-dir", str(tmp_path)]) == 0

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(build.dashboards())
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / name) for name in build.dashboards()]


# --- queries ----------------------------------------------------------------------------------


def subqueries(sources: str) -> list[str]:
    """The parenthesised SELECTs of a FROM clause `(…), (…)`, each without its parentheses."""
    found, depth, start = [], 0, 0
    for index, char in enumerate(sources):
        if char == "(":
            depth += 1
            if depth == 1:
                start = index + 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                found.append(sources[start:index])
    return found


def group_by_names(rest: str) -> set[str]:
    """The tags a clause groups by (time(…) left out)."""
    grouped = GROUP_BY.search(rest)
    return names_in(grouped["keys"]) if grouped else set()


def check_reads_only_written_names(query: str) -> set[str]:
    """Fail unless `query` reads, filters and groups only by what the writers store; return the
    names of the columns it gives (its aliases, else the names it selects)."""
    direct = None if " FROM (" in query else SELECT.match(query)
    if direct:
        measurement = direct["measurement"]
        assert measurement in CONTRACT_FIELDS, query
        selected = names_in(direct["selection"])
        assert selected, f"selects no field by name: {query}"
        assert selected <= FIELDS[measurement] | TAGS[measurement], query
        assert names_in(direct["rest"]) <= FIELDS[measurement] | TAGS[measurement], query
        assert group_by_names(direct["rest"]) <= TAGS[measurement], query
        return set(ALIASES.findall(direct["selection"])) or selected
    outer = SELECT_FROM_SUBQUERIES.match(query)
    assert outer, f"not a single-measurement InfluxQL SELECT, nor one over subqueries: {query}"
    given = set().union(*(check_reads_only_written_names(inner) for inner in subqueries(outer["sources"])))
    assert names_in(outer["selection"]) <= given, query
    assert group_by_names(outer["rest"]) <= set().union(*TAGS.values()), query
    return set(ALIASES.findall(outer["selection"])) or names_in(outer["selection"])


@pytest.mark.parametrize(("file_name", "dashboard", "query"), panel_queries())
def test_panel_query_reads_only_the_stored_measurements_fields_and_tags(
    file_name: str, dashboard: dict, query: str
) -> None:
    """A panel query selects from a contract measurement only the fields and tags stored there
    (subqueries too), filters by them, and groups by tags only."""
    check_reads_only_written_names(query)


def test_subqueries_are_split_at_their_own_parentheses() -> None:
    """A FROM clause of two subqueries, one with a function call inside, gives both whole."""
    sources = '(SELECT last("a") FROM "load" WHERE $timeFilter), (SELECT "b" * 2 AS "c" FROM "run")'

    assert subqueries(sources) == ['SELECT last("a") FROM "load" WHERE $timeFilter', 'SELECT "b" * 2 AS "c" FROM "run"']


def test_a_query_reading_an_unstored_field_fails_the_check() -> None:
    """The check catches a field no writer stores, inside a subquery as well."""
    with pytest.raises(AssertionError):
        check_reads_only_written_names('SELECT "pace" FROM "run" WHERE $timeFilter')
    with pytest.raises(AssertionError):
        check_reads_only_written_names(
            'SELECT last("x") AS "x" FROM (SELECT "pace" AS "x" FROM "run" WHERE $timeFilter) WHERE $timeFilter'
        )


@pytest.mark.parametrize(("file_name", "dashboard", "query"), panel_queries())
def test_panel_query_keeps_to_the_dashboard_time_range(file_name: str, dashboard: dict, query: str) -> None:
    """A panel query filters on $timeFilter."""
    assert "$timeFilter" in query


@pytest.mark.parametrize(("file_name", "dashboard", "query"), panel_queries())
def test_panel_query_filters_by_every_template_variable(file_name: str, dashboard: dict, query: str) -> None:
    """A panel query keeps to each of its dashboard's variables, as `"tag" =~ /^$variable$/`."""
    for name in variable_names(dashboard):
        assert f'"{name}" =~ /^${name}$/' in query


@pytest.mark.parametrize("query", variable_queries())
def test_variable_query_lists_values_of_a_contract_tag(query: str) -> None:
    """A template variable lists the values of a contract tag, filtered by contract tags only."""
    parsed = SHOW_TAG_VALUES.match(query)
    assert parsed, f"not a SHOW TAG VALUES query: {query}"
    tags = CONTRACT_TAGS[parsed["measurement"]]
    assert parsed["key"] in tags
    assert names_in(parsed["rest"] or "") <= tags


def test_team_load_has_a_team_variable_and_a_multi_runner_variable_filtered_by_team() -> None:
    """Team load picks a team from the load tags, then any number of that team's runners."""
    dashboard = build.team_load()
    team, runner = variable_named(dashboard, "team"), variable_named(dashboard, "runner")

    assert team["query"] == 'SHOW TAG VALUES FROM "load" WITH KEY = "team"'
    assert runner["multi"] is True
    assert runner["query"].endswith('WHERE "team" =~ /^$team$/')


def test_runner_detail_has_a_single_runner_variable() -> None:
    """Runner detail shows one runner at a time."""
    dashboard = build.runner_detail()

    assert variable_names(dashboard) == ["runner"]
    assert variable_named(dashboard, "runner")["multi"] is False


# --- data source ------------------------------------------------------------------------------


@pytest.mark.parametrize(("file_name", "dashboard"), build.dashboards().items())
def test_every_panel_and_its_queries_use_the_provisioned_datasource(file_name: str, dashboard: dict) -> None:
    """Each panel, and each of its queries, names the data source uid that provisioning creates."""
    for panel in all_panels(dashboard):
        assert panel["datasource"] == {"type": "influxdb", "uid": PROVISIONED_DATASOURCE_UID}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == PROVISIONED_DATASOURCE_UID, panel["title"]


@pytest.mark.parametrize(("file_name", "dashboard"), build.dashboards().items())
def test_every_template_variable_uses_the_provisioned_datasource(file_name: str, dashboard: dict) -> None:
    """Each template variable queries the data source uid that provisioning creates."""
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == PROVISIONED_DATASOURCE_UID, variable["name"]


@pytest.mark.parametrize(("file_name", "dashboard"), build.dashboards().items())
def test_panel_ids_are_unique_within_a_dashboard(file_name: str, dashboard: dict) -> None:
    """No two panels of one dashboard share an id (links to single panels rely on it)."""
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert len(ids) == len(set(ids))


# --- provisioning -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DASHBOARD_PROVIDER, DATASOURCE_FILE], ids=lambda path: path.name)
def test_provisioning_file_parses_as_grafana_provisioning_yaml(path: Path) -> None:
    """Each provisioning file is YAML with Grafana's `apiVersion: 1`."""
    assert load_yaml(path)["apiVersion"] == 1


def test_dashboard_provider_reads_the_folder_where_compose_mounts_the_json() -> None:
    """The file provider loads dashboards from /etc/grafana/footpod-dashboards."""
    (provider,) = load_yaml(DASHBOARD_PROVIDER)["providers"]

    assert provider["type"] == "file"
    assert provider["options"]["path"] == COMPOSE_MOUNT_OF_DASHBOARDS_JSON


def test_datasource_is_influxql_with_the_uid_the_dashboards_use() -> None:
    """The data source is InfluxDB with InfluxQL, uid footpod-influxdb, url and database from the
    FOOTPOD_* variables, and the 2.x token sent as `Authorization: Token …`."""
    (datasource,) = load_yaml(DATASOURCE_FILE)["datasources"]

    assert datasource["uid"] == PROVISIONED_DATASOURCE_UID == build.DATASOURCE_UID
    assert datasource["type"] == "influxdb"
    assert datasource["url"] == "${FOOTPOD_INFLUX_URL}"
    assert datasource["jsonData"]["version"] == "InfluxQL"
    assert datasource["jsonData"]["dbName"] == "${FOOTPOD_INFLUX_BUCKET}"
    assert datasource["jsonData"]["httpHeaderName1"] == "Authorization"
    assert datasource["secureJsonData"]["httpHeaderValue1"] == "Token ${FOOTPOD_INFLUX_TOKEN}"


# --- what a coach acts on -----------------------------------------------------------------------

ALLOWED_PART = re.compile(
    r'"prev_week_km" \* (?P<factor>[0-9.]+) AS "allowed_km" .*"gate" =~ /\^\((?P<gates>[^)]*)\)\$/'
)


def test_allowed_km_multiplies_last_week_by_each_gates_factor_once() -> None:
    """The allowed-km query covers every gate of the budget table once, each with its own factor."""
    query = build.allowed_km(build.RUNNER_ONLY, build.EACH_INTERVAL)
    sources = query[query.index(" FROM (") + len(" FROM ") : query.rindex(" WHERE ")]
    parts = [ALLOWED_PART.search(inner) for inner in subqueries(sources)]

    factors = {gate: float(part["factor"]) for part in parts for gate in part["gates"].split("|")}
    assert factors == pytest.approx(thresholds.GATE_FACTORS)
    assert sum(len(part["gates"].split("|")) for part in parts) == len(thresholds.GATE_FACTORS)


def test_every_pain_gate_is_coloured_by_the_severity_of_its_decision() -> None:
    """Each gate of RULES.md §3 has a colour: green for `progress`, else its severity's colour."""
    assert set(build.GATE_COLOURS) == set(GATES)
    assert build.GATE_COLOURS["progress"] == "green"
    for gate, severity in GATE_SEVERITY.items():
        if gate == "progress":
            continue
        assert build.GATE_COLOURS[gate] == build.SEVERITY_COLOURS[severity]


def test_runner_cadence_panel_reads_running_samples_only() -> None:
    """The cadence measurement's mean keeps to samples at or above the cadence the stream counts as
    running (walking and standing are left out of a run's cadence)."""
    queries = [
        query
        for _, dashboard, query in (param.values for param in panel_queries())
        if dashboard["uid"] == build.RUNNER_DETAIL_UID and 'FROM "cadence"' in query and '"spm"' in query
    ]

    assert queries
    for query in queries:
        assert f'"spm" >= {load_params(Settings()).running_cadence_spm:g}' in query


def test_team_overview_has_a_row_per_runner_with_gate_acwr_allowed_shoe_and_last_alert() -> None:
    """The runners table joins its queries by runner and gives every column a coach acts on."""
    (runners,) = [panel for panel in build.team_load()["panels"] if panel["title"] == "Runners"]
    names = set()
    for target in runners["targets"]:
        names |= check_reads_only_written_names(target["query"])

    assert {
        "week_km",
        "allowed_km",
        "budget_km",
        "change_pct",
        "acwr",
        "acwr_ewma",
        "gate",
        "shoe_km",
        "last_alert",
    } <= names
    assert all('GROUP BY "runner"' in target["query"] for target in runners["targets"])
    assert runners["transformations"][0] == {"id": "joinByField", "options": {"byField": "runner", "mode": "outer"}}
