"""The dashboards' queries on real data: a simulated team's weeks go through the real pipeline into
InfluxDB 1.x; then every panel query of every generated dashboard runs there, its template
variables expanded as Grafana expands them, and must give rows with the columns the panel shows."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from PIL import Image

from alerts.rules.pain_gate import GATES
from dashboards import build
from dashboards.expand import TimeRange, expand, panel_targets, template_variables
from dashboards.serve import CSS_COLOURS, TeamSource, influx_query, make_server
from footpod.roster import CHECK_EVERY_S
from footpod.settings import Settings
from footpod.thresholds import GATE_FACTORS
from monitor import servers
from monitor.simulate import Runner, history
from streams.segments import load_params
from tests.integration.stack import wait_for

TEAM = "sim-harriers"
WEEKS = 5  # more than the 28 days ACWR needs
RANGE = TimeRange.last(f"{(WEEKS + 1) * 7}d")
# A small steady team: one runner's last run is stored in two versions, one reports knee pain with
# a red flag before the last run. Nobody overreaches: other tests count the store's progression
# alerts without naming a runner.
SQUAD = [
    Runner("sim-ann", "sim-ann-pod", weekly_km=12.0, speed_mps=3.4, cadence_spm=172.0, overreaching=False),
    Runner("sim-ben", "sim-ben-pod", weekly_km=10.0, speed_mps=3.2, cadence_spm=166.0, overreaching=False),
    Runner("sim-cat", "sim-cat-pod", weekly_km=11.0, speed_mps=3.5, cadence_spm=176.0, overreaching=False),
]
VERSIONED = "sim-ann"
PAINED = "sim-ben"
HOUR_MS = 3_600_000
SELECT_LIST = re.compile(r"^SELECT (?P<selection>.+?) FROM ")
ALIAS = re.compile(r'\s+AS\s+"(?P<alias>[^"]+)"$')
FUNCTION = re.compile(r"^(?P<function>\w+)\(")
FIELD = re.compile(r'^"(?P<field>[^"]+)"$')


@dataclass
class Season:
    """What was published, to check the panels' figures against."""

    runs: dict[str, list[list[dict]]]
    pain: list[dict]
    influx_url: str
    fill_s: float


def influx_series(url: str, query: str) -> list[dict]:
    response = httpx.post(f"{url}/query", params={"db": "footpod", "epoch": "ms"}, data={"q": query}, timeout=30)
    response.raise_for_status()
    (result,) = response.json()["results"]
    assert "error" not in result, f"{result['error']}\n{query}"
    return result.get("series", [])


def count(url: str, query: str) -> int:
    series = influx_series(url, query)
    return sum(values[1] for s in series for values in s["values"])


@pytest.fixture(scope="module")
def phone_client(pipeline):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", pipeline.mqtt_port)
    client.loop_start()

    def publish(topic: str, payload) -> None:
        client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(10)

    yield publish
    client.loop_stop()
    client.disconnect()


@pytest.fixture(scope="module")
def season(pipeline, phone_client) -> Season:
    """Five weeks of a three-runner team, synced as phones sync them, with pain reports (one with a
    red flag) before one runner's last run; waits until the store holds every run, the load after
    each runner's last run, the pain reports and the red-flag alert."""
    roster = pipeline.data_dir / "roster.yaml"
    roster.write_text(roster.read_text() + "".join(f"  {runner.name}: {{team: {TEAM}}}\n" for runner in SQUAD))
    time.sleep(CHECK_EVERY_S * 1.5)  # both workers read the roster again before the first sample

    started = time.monotonic()
    rng = random.Random(12)
    # on the hour: every run then starts at minute 0 of its hour (the simulator keeps now's minute)
    now_ms = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    runs = {runner.name: history(runner, now_ms, WEEKS, rng) for runner in SQUAD}
    for runner in SQUAD:
        held_back = 1 if runner.name in (PAINED, VERSIONED) else 0
        for samples in runs[runner.name][: len(runs[runner.name]) - held_back]:
            phone_client(f"footpod/{runner.name}/samples", samples)
    url = pipeline.influx_url
    # a run stored in two versions: its head and tail come first (two runs, 6 min apart), the
    # middle later joins them into one; head and tail start in the same hour
    versioned = runs[VERSIONED][-1]
    cut = len(versioned) * 2 // 5
    head, middle, tail = versioned[:cut], versioned[cut : cut + 360], versioned[cut + 360 :]
    assert len(tail) > 60 and (tail[0]["ts"] - head[-1]["ts"]) / 1000 > load_params(Settings()).run_gap_ms / 1000
    for part in (head, tail):
        phone_client(f"footpod/{VERSIONED}/samples", part)
    wait_for(
        lambda: (
            count(url, f'SELECT count("km") FROM "run" WHERE "runner" = \'{VERSIONED}\' AND time >= {tail[0]["ts"]}ms')
            >= 1
        ),
        "the tail stored as a run of its own",
        timeout_s=120,
    )
    phone_client(f"footpod/{VERSIONED}/samples", middle)
    before_last = runs[PAINED][-2][-1]["ts"]
    pain = [
        {"ts": before_last + 60_000, "score": 4, "timing": "after", "location": "below_kneecap"},
        {"ts": before_last + 120_000, "score": 3, "timing": "after", "flags": ["swelling"], "location": "front"},
    ]
    for report in pain:
        phone_client(f"footpod/{PAINED}/pain", report)
    wait_for(
        lambda: count(url, f'SELECT count("score") FROM "pain" WHERE "runner" = \'{PAINED}\'') >= 2,
        "the pain reports stored",
        timeout_s=120,
    )
    phone_client(f"footpod/{PAINED}/samples", runs[PAINED][-1])

    last_end = {name: max(run[-1]["ts"] for run in done) for name, done in runs.items()}
    wait_for(
        lambda: (
            all(
                count(url, f'SELECT count("km") FROM "run" WHERE "runner" = \'{name}\'') >= len(runs[name])
                and count(
                    url,
                    f'SELECT count("week_km") FROM "load" WHERE "runner" = \'{name}\' AND time >= {last_end[name]}ms',
                )
                >= 1
                for name in runs
            )
            and count(
                url, f'SELECT count("message") FROM "alert" WHERE "rule" = \'red_flag\' AND "runner" = \'{PAINED}\''
            )
            >= 1
        ),
        "every run, the load after each runner's last run, and the red-flag alert",
        timeout_s=120,
    )
    fill_s = time.monotonic() - started
    print(
        f"\nsimulated season: {sum(len(r) for r in runs.values())} runs, "
        f"{sum(len(s) for r in runs.values() for s in r)} samples stored and evaluated in {fill_s:.1f} s"
    )
    return Season(runs=runs, pain=pain, influx_url=url, fill_s=fill_s)


def values_for(dashboard: dict) -> dict[str, list[str]]:
    """The template variables as a coach picks them: the simulated team, all its runners on the
    team page, the runner with pain reports on the runner page."""
    chosen = {"team": [TEAM], "runner": [runner.name for runner in SQUAD]}
    if dashboard["uid"] == build.RUNNER_DETAIL_UID:
        chosen["runner"] = [PAINED]
    return {name: chosen[name] for name in template_variables(dashboard)}


def expected_columns(query: str) -> set[str]:
    """The columns InfluxDB names for the outer SELECT list: an alias, else the function, else the field."""
    selection = SELECT_LIST.match(query)["selection"]
    names = {"time"}
    depth, item, items = 0, "", []
    for char in selection:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            items.append(item.strip())
            item = ""
        else:
            item += char
    items.append(item.strip())
    for part in items:
        for pattern, group in ((ALIAS, "alias"), (FUNCTION, "function"), (FIELD, "field")):
            found = pattern.search(part)
            if found:
                names.add(found[group])
                break
        else:
            raise AssertionError(f"cannot name the column of {part!r}")
    return names


def panel_queries() -> list[pytest.param]:
    return [
        pytest.param(dashboard, panel["title"], target["query"], id=f"{file_name}:{panel['title']}:{target['refId']}")
        for file_name, dashboard in build.dashboards().items()
        for panel, target in panel_targets(dashboard)
    ]


@pytest.mark.parametrize(("dashboard", "title", "query"), panel_queries())
def test_panel_query_gives_rows_with_the_panels_columns_on_real_data(season, dashboard, title, query):
    expanded = expand(query, values_for(dashboard), RANGE, "1h")

    series = influx_series(season.influx_url, expanded)

    assert series and all(s["values"] for s in series), f"{title}: no rows for\n{expanded}"
    for s in series:
        assert set(s["columns"]) == expected_columns(expanded), (title, s["columns"])


@pytest.mark.parametrize("file_name", sorted(build.dashboards()))
def test_template_variables_list_the_simulated_team_and_its_runners(season, file_name):
    dashboard = build.dashboards()[file_name]
    values = values_for(dashboard)
    for variable in dashboard["templating"]["list"]:
        listed = {
            row[1]
            for s in influx_series(season.influx_url, expand(variable["query"], values, RANGE))
            for row in s["values"]
        }
        wanted = {TEAM} if variable["name"] == "team" else {runner.name for runner in SQUAD}
        assert wanted <= listed, variable["name"]


def runners_rows(season) -> dict[str, dict]:
    """The team page's runners table as Grafana's join gives it: one dict per runner."""
    (panel,) = [p for p in build.team_load()["panels"] if p["title"] == "Runners"]
    joined: dict[str, dict] = {}
    for target in panel["targets"]:
        query = expand(target["query"], values_for(build.team_load()), RANGE)
        for s in influx_series(season.influx_url, query):
            joined.setdefault(s["tags"]["runner"], {}).update(zip(s["columns"], s["values"][0]))
    return joined


def test_runners_table_has_one_row_per_runner_with_allowed_km_from_the_gate_in_force(season):
    """Allowed km = last week's km times the factor of the gate in force; the budget is what is left."""
    rows = runners_rows(season)

    assert set(rows) == {runner.name for runner in SQUAD}
    for row in rows.values():
        assert row["gate"] in GATES
        assert row["allowed_km"] == pytest.approx(row["prev_week_km"] * GATE_FACTORS[row["gate"]], abs=0.01)
        assert row["budget_km"] == pytest.approx(max(0.0, row["allowed_km"] - row["week_km"]), abs=0.01)
        assert row["acwr"] > 0 and row["acwr_ewma"] > 0 and row["shoe_km"] > 0
    assert rows[PAINED]["gate"] != "progress"  # a red flag is in force
    assert rows[PAINED]["severity"] == "critical"


def test_cadence_panel_leaves_walking_out(season):
    """At 10 s resolution the running-only cadence never dips into the warm-up walk; without the
    filter the same query does."""
    (query,) = [t["query"] for p, t in panel_targets(build.runner_detail()) if p["title"] == "Cadence while running"]
    threshold = load_params(Settings()).running_cadence_spm
    variables = values_for(build.runner_detail())

    running = influx_series(season.influx_url, expand(query, variables, RANGE, "10s"))
    unfiltered = influx_series(
        season.influx_url, expand(query.replace(f' AND "spm" >= {threshold:g}', ""), variables, RANGE, "10s")
    )

    assert min(row[1] for row in running[0]["values"]) >= threshold
    assert min(row[1] for row in unfiltered[0]["values"]) < threshold


@pytest.mark.parametrize("runner", [runner.name for runner in SQUAD])
def test_km_per_day_adds_up_to_the_runs_synced_each_once(season, runner):
    """The daily bars add up to the distance of every run published, each once: two runs on one day
    both, a run stored in two versions (VERSIONED's last) once."""
    (query,) = [t["query"] for p, t in panel_targets(build.runner_detail()) if p["title"] == "Km per day"]

    series = influx_series(season.influx_url, expand(query, {"runner": [runner]}, RANGE))

    published_km = sum((run[-1]["distance_m"] - run[0]["distance_m"]) / 1000 for run in season.runs[runner])
    stored_km = sum(
        row[1]
        for row in influx_series(season.influx_url, f'SELECT "km" FROM "run" WHERE "runner" = \'{runner}\'')[0][
            "values"
        ]
    )
    print(f"\n{runner}: {published_km:.2f} km published, {stored_km:.2f} km in all run points")
    assert sum(row[1] for row in series[0]["values"]) == pytest.approx(published_km, rel=0.02)


def test_pain_reports_show_flags_and_location(season):
    (query,) = [t["query"] for p, t in panel_targets(build.runner_detail()) if p["title"] == "Pain reports"]

    (series,) = influx_series(season.influx_url, expand(query, values_for(build.runner_detail()), RANGE))

    rows = [dict(zip(series["columns"], values)) for values in series["values"]]
    assert [(row["score"], row["flags"], row["location"]) for row in rows] == [
        (3, "swelling", "front"),
        (4, "", "below_kneecap"),
    ]


# --- the local team page, in a real browser ---------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WINDOW = (1200, 900)


@pytest.fixture(scope="module")
def team_page_url(season, pipeline):
    """`footpod-monitor dashboards serve` as a coach starts it, on a free port."""
    port = servers.free_port()
    log = (pipeline.data_dir / "logs" / "dashboards-serve.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "dashboards", "serve", "--port", str(port)],
        env=pipeline.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or servers.port_open("127.0.0.1", port),
            "the team page to listen",
            timeout_s=30,
        )
        assert process.poll() is None, "dashboards serve exited"
        yield f"http://127.0.0.1:{port}/?team={TEAM}"
    finally:
        process.terminate()
        process.wait(10)


def chromium(tmp_path: Path, *action: str, url: str) -> subprocess.CompletedProcess:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium (the Makefile's DEBS)"
    argv = [
        CHROMIUM,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *action,
        url,
    ]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    print(f"\nchromium {action[0]}: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_team_page_in_chromium_lists_each_runner_with_the_stored_gate_and_acwr(season, team_page_url, tmp_path):
    """The DOM Chromium rendered has a row per runner of the team, with the gate and ACWR the store
    holds, and the red-flag alert among the open alerts."""
    dom = chromium(tmp_path, "--dump-dom", url=team_page_url).stdout
    stored = runners_rows(season)

    rows = dict(re.findall(r'<tr data-runner="([^"]+)">(.*?)</tr>', dom))
    assert set(rows) == {runner.name for runner in SQUAD}
    for name, cells in rows.items():
        assert f'data-band="gate">{stored[name]["gate"]}<' in cells
        assert f'data-band="acwr">{stored[name]["acwr"]:.2f}<' in cells
        assert f"{stored[name]['week_km']:.1f} / {stored[name]['allowed_km']:.1f} km" in cells
    alerts = re.search(r'<table id="alerts">(.*?)</table>', dom)[1]
    assert "red_flag" in alerts and PAINED in alerts


def test_team_page_screenshot_shows_the_colours(team_page_url, tmp_path):
    """The PNG Chromium draws is the window's size, not blank, and carries the red of the gate the
    red flag set."""
    shot = tmp_path / "team.png"
    chromium(tmp_path, f"--screenshot={shot}", url=team_page_url)

    with Image.open(shot) as image:
        assert image.size == WINDOW
        colours = image.convert("RGB").getcolors(maxcolors=WINDOW[0] * WINDOW[1])
    assert len(colours) > 50, "a blank or near-blank page"
    red = tuple(int(CSS_COLOURS["red"][i : i + 2], 16) for i in (1, 3, 5))
    assert sum(n for n, colour in colours if colour == red) > 100, "no red pill on the page"


def test_team_page_says_when_the_store_cannot_be_read_and_serves_nothing_else():
    """With no InfluxDB at the URL the page answers 503 with the reason; other paths are 404."""
    source = TeamSource(influx_query(f"http://127.0.0.1:{servers.free_port()}", "footpod", timeout_s=2))
    server = make_server(source, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        down = httpx.get(f"{base}/?team=x", timeout=10)
        missing = httpx.get(f"{base}/favicon.ico", timeout=10)
    finally:
        server.shutdown()
        server.server_close()

    assert down.status_code == 503 and "cannot be read" in down.text
    assert missing.status_code == 404
