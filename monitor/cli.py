"""`footpod-monitor`: the local stack, each pipeline stage, and the simulated team."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from rich.console import Console

from footpod.contract import RED_FLAGS
from footpod.errors import FootpodError, UsageError
from footpod.settings import Settings, load_settings

console = Console(stderr=True)

DESCRIPTION = """\
footpod-monitor watches runners' training as it happens and warns before knees break down.

Configuration comes from FOOTPOD_* environment variables (see README.md):
  FOOTPOD_MQTT_URL   (mqtt://127.0.0.1:1883)   FOOTPOD_KAFKA_URL (kafka://127.0.0.1:9092)
  FOOTPOD_INFLUX_URL (http://127.0.0.1:8086)   FOOTPOD_ROSTER    (YAML: runners -> team)
  FOOTPOD_DATA_DIR   (.footpod: local servers' data and logs)
  FOOTPOD_LOG_LEVEL  (info)                    FOOTPOD_METRICS_PORT (per stage; 0 = off)
Any FOOTPOD_X may instead be read from a file named by FOOTPOD_X_FILE (secrets).

exit status: 0 done, 1 a runtime error (a server did not answer), 2 a usage or configuration error.
"""

LOG_LEVELS = ["debug", "info", "warning", "error"]
# A stage makes and drops a few container objects per sample; at Python's default thresholds (700,
# 10, 10) the collector ran ~45 times a second in the alert worker at 1,000 live runners, and its full
# passes over the runners it keeps took ~170 ms each: 25 % of the alert worker's CPU and 10 % of the
# stream's (README "Speed"). Most garbage here is freed by reference counting; cycles are rare.
GC_THRESHOLDS = (50_000, 20, 10)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("footpod-monitor")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footpod-monitor", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"footpod-monitor {version()}")
    parser.add_argument(
        "-l", "--log-level", default=None, choices=LOG_LEVELS, help="log level (default: FOOTPOD_LOG_LEVEL, else info)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="run the whole pipeline on this machine, with a live team view",
        description="Start Mosquitto, Kafka (Tansu) and InfluxDB where their URLs point at "
        "a free local port, then the bridge, stream and alert workers. "
        "Prints a line starting 'ready' when all accept work; Ctrl-C stops "
        "everything it started.",
    )
    up.add_argument(
        "--simulate",
        type=int,
        default=0,
        metavar="N",
        help="also run a simulated team of N runners publishing live 1 Hz samples",
    )
    up.add_argument("--no-view", action="store_true", help="print plain progress lines instead of the live table")

    commands.add_parser("bridge", help="MQTT -> Kafka bridge (validates, dead-letters, acks after Kafka)")
    commands.add_parser("stream", help="stream worker: runs, load and cadence -> InfluxDB and the alert worker")
    commands.add_parser("alerts", help="alert worker: rules -> alerts/{team}/{runner} and retained status/{runner}")

    simulate = commands.add_parser("simulate", help="publish a simulated team's footpod samples over MQTT")
    simulate.add_argument("runners", type=int, metavar="N", help="number of runners")
    simulate.add_argument(
        "--history-weeks", type=int, default=3, help="weeks of past runs each runner syncs first (default: 3)"
    )
    simulate.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")

    status = commands.add_parser(
        "status",
        help="a runner's status as a person reads it",
        description="Week km against the budget, the knee gate and the report that set "
        "it, ACWR, cadence against baseline, return-to-run phase and recent "
        "alerts, from the retained status and the stored series.",
    )
    status.add_argument("runner", help="the runner's name, as in footpod/{runner}/…")

    pain = commands.add_parser(
        "pain",
        help="publish a knee-pain report on a runner's behalf",
        description="Publishes on footpod/RUNNER/pain exactly as the phone does.",
    )
    pain.add_argument("runner", help="the runner's name")
    pain.add_argument("score", type=int, help="pain now, 0 (none) to 10 (worst)")
    pain.add_argument(
        "--flag",
        action="append",
        default=[],
        metavar="FLAG",
        choices=RED_FLAGS,
        help=f"a red flag (repeatable): {', '.join(RED_FLAGS)}",
    )
    pain.add_argument("--during", action="store_true", help="the pain is during a run (default: derived from time)")
    pain.add_argument("--worsening", action="store_true", help="the pain got worse during the run")

    fit_import = commands.add_parser(
        "import",
        help="publish the runs of FIT activity files (or folders of them) as a phone would",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Decodes each whole FIT file, then publishes every running session's records on\n"
        "footpod/RUNNER/samples (QoS 1, waiting for the broker's acks). Walks, rides and swims are\n"
        "skipped with a reason; corrupt, truncated or half-valid files are rejected and nothing of\n"
        "them is published. Importing a file again counts nothing twice.",
        epilog="exit status: 0 when every file was imported or skipped for a reason, 1 when a file was "
        "rejected,\n2 when the broker could not be reached or did not acknowledge.",
    )
    fit_import.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="FIT files, or folders searched recursively for *.fit"
    )
    fit_import.add_argument("--runner", required=True, help="the runner's name, as in footpod/{runner}/…")
    fit_import.add_argument(
        "--watch",
        type=Path,
        metavar="DIR",
        help="then keep importing FIT files that appear in DIR (e.g. a watch's synced folder)",
    )
    fit_import.add_argument("--poll-s", type=float, default=5.0, help="how often --watch looks (default: 5 s)")
    fit_import.add_argument("--no-progress", action="store_true", help="no progress bar")

    notify_test = commands.add_parser(
        "notify-test",
        help="send a test message to a runner's and its team's targets",
        description="Sends one message to each notification target of RUNNER and of "
        "its team (roster `notify`) and prints what each answered; "
        "exit status 1 if any failed or there are none.",
    )
    notify_test.add_argument("runner", help="the runner's name")

    gateway = commands.add_parser(
        "gateway",
        help="read BLE footpods (Running Speed and Cadence) and publish 1 Hz samples",
        description="Connects to the BLE addresses in the roster's runners' `devices` (service 0x1814, RSC "
        "Measurement 0x2A53) and publishes 1 Hz samples on footpod/{runner}/samples (QoS 1). Samples "
        "wait in an on-disk outbox until the broker acknowledges them, so a broker out of reach or a "
        "crash loses nothing; dropped pods are reconnected. Needs: pip install 'footpod-monitor[gateway]'.",
    )
    gateway.add_argument(
        "--simulate",
        type=int,
        default=0,
        metavar="N",
        help="read N simulated pods instead of the radio (runners sim00, sim01, …)",
    )
    gateway.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        metavar="K",
        help="with --simulate: run simulated time K times faster, starting 6 h in the past",
    )
    gateway.add_argument(
        "--outbox",
        type=Path,
        default=None,
        metavar="PATH",
        help="the on-disk outbox (default: $FOOTPOD_DATA_DIR/gateway/outbox.db)",
    )
    gateway.add_argument(
        "--max-queued",
        type=int,
        default=1_000_000,
        metavar="N",
        help="samples the outbox keeps at most; past it the oldest are dropped (default: 1000000)",
    )
    gateway.add_argument("--client-id", default=None, help="MQTT client id (default: footpod-gateway-HOSTNAME)")
    gateway.add_argument("--no-view", action="store_true", help="status lines every minute instead of the live table")

    dashboards = commands.add_parser(
        "dashboards",
        help="regenerate the Grafana dashboards' JSON, `serve` the team page, or set up Grafana per team",
        description="Without an action: regenerate the Grafana dashboards' JSON. "
        "`grafana-sync`: each team's folder, dashboards and coaches in Grafana; `add-coach`: a coach's login. "
        "`serve`: the team at a glance in a browser, without Grafana.",
    )
    dashboards.add_argument("--out-dir", type=Path, default=None, help="where to write (default: dashboards/json)")
    dashboard_actions = dashboards.add_subparsers(dest="dashboards_action", metavar="ACTION")
    serve = dashboard_actions.add_parser(
        "serve", help="a page per team: week km against the budget, ACWR, gate, open alerts (from InfluxDB)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8300, help="port to listen on (default: 8300)")
    grafana_sync = dashboard_actions.add_parser(
        "grafana-sync",
        help="per team in Grafana: a folder, the team's dashboards, its coaches' team with View on that folder only",
        description="From the roster's teams, creates or updates in Grafana, for each team: a folder, the "
        "team's copies of the dashboards (every query kept to the team), and a Grafana team 'coaches of TEAM' "
        "that alone may view the folder (the default Viewer/Editor permissions removed); the all-teams folder "
        "is left to admins. Run it again after each roster change; a second run changes nothing. Logs in as "
        "FOOTPOD_GRAFANA_ADMIN_USER (admin) with FOOTPOD_GRAFANA_ADMIN_PASSWORD(_FILE).",
    )
    _grafana_options(grafana_sync)
    grafana_sync.add_argument("--dry-run", action="store_true", help="print the plan as a table; talk to no Grafana")
    add_coach = dashboard_actions.add_parser(
        "add-coach",
        help="give a coach (EMAIL) a Grafana login that sees their team's dashboards only",
        description="Creates the Grafana user EMAIL if missing (password from --password-file, else a new one "
        "printed once) and adds it to the team 'coaches of TEAM' that grafana-sync made.",
    )
    add_coach.add_argument("email", metavar="EMAIL", help="the coach's e-mail address, also their login")
    add_coach.add_argument("--team", required=True, help="the coach's team, as in the roster")
    add_coach.add_argument("--name", default=None, help="the coach's name as Grafana shows it (default: EMAIL)")
    add_coach.add_argument(
        "--password-file", type=Path, default=None, help="a new user's password from this file (default: a new one)"
    )
    _grafana_options(add_coach)
    export = commands.add_parser(
        "export",
        help="a runner's runs, load, pain and alerts as CSV and JSON",
        description="Reads everything the store holds of RUNNER's runs, load, pain reports "
        "and alerts, and writes RUNNER-<measurement>.csv and RUNNER.json.",
    )
    export.add_argument("runner", help="the runner's name")
    export.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="folder to write (default: .)")
    forget = commands.add_parser(
        "forget",
        help="delete a runner's data everywhere (store, status, outbox)",
        description="Deletes every point of RUNNER in every measurement of the store, the "
        "retained status/RUNNER message and RUNNER's notification-outbox rows, "
        "and says what it deleted. Without --yes it only counts.",
    )
    forget.add_argument("runner", help="the runner's name")
    forget.add_argument("--yes", action="store_true", help="really delete")
    for command in commands.choices.values():  # the same option after the command: `stream -l debug`
        command.add_argument(
            "-l",
            "--log-level",
            default=argparse.SUPPRESS,
            choices=LOG_LEVELS,
            help="log level (default: FOOTPOD_LOG_LEVEL, else info)",
        )
    return parser


def _grafana_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=None, help="Grafana's address, e.g. https://HOST:3000 (default: FOOTPOD_GRAFANA_URL)"
    )
    parser.add_argument("--roster", type=Path, default=None, help="the roster (default: FOOTPOD_ROSTER)")


def main(argv: list[str] | None = None) -> int:
    """Exit status 2 for a usage or configuration error (argparse's too), 1 for a runtime error;
    either way one line on stderr saying what went wrong (the traceback only with `-l debug`)."""
    from footpod import logs

    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        args.log_level = args.log_level or settings.log_level.lower()
        logs.configure(args.log_level, sys.stderr, console)
        return COMMANDS[args.command](args, settings) or 0
    except FootpodError as error:
        _error_line(error)
        return error.exit_status
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        logging.getLogger("footpod").debug("the traceback", exc_info=True)
        _error_line(f"{type(error).__name__}: {error}")
        return 1


def _error_line(error: object) -> None:
    from rich.markup import escape

    line = " ".join(str(error).split())  # one line, whatever the message held
    # escaped: a message's own brackets (`footpod-monitor[grafana]`) are text, not markup
    console.print(f"[red]error:[/red] {escape(line)}", soft_wrap=True, markup=True, highlight=False)


def _tune_gc() -> None:
    """For a long-running stage: what start-up made (modules, the app) is kept out of every later
    collection, and young objects are collected less often (`GC_THRESHOLDS`)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_bridge(args, settings: Settings) -> int:
    from ingest.bridge import Bridge

    _tune_gc()
    bridge = Bridge(settings)
    _serve_metrics(settings, "bridge", bridge.health)
    return _run_async(bridge.run(ready=lambda: _mark_ready(settings, "bridge")))


def _serve_metrics(settings: Settings, stage: str, health) -> None:
    from footpod.metrics import serve

    serve(stage, settings.metrics_port, settings.metrics_host, health)


def run_stream(args, settings: Settings) -> int:
    from streams.agents import create_worker

    return _run_faust(create_worker(settings), settings, "stream", args.log_level)


def run_alerts(args, settings: Settings) -> int:
    from alerts.worker import create_worker

    return _run_faust(create_worker(settings), settings, "alerts", args.log_level)


def run_simulate(args, settings: Settings) -> int:
    from monitor.simulate import run_team

    run_team(settings, args.runners, history_weeks=args.history_weeks, seed=args.seed)
    return 0


def run_up(args, settings: Settings) -> int:
    from monitor.stack import run_stack

    return run_stack(settings, simulate=args.simulate, view=not args.no_view, console=console)


def run_status(args, settings: Settings) -> int:
    from rich.table import Table

    from monitor.ask import status_lines

    table = Table(show_header=False, box=None, title=f"[bold]{args.runner}[/bold]", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, text in status_lines(settings, args.runner):
        table.add_row(label, text)
    Console().print(table)
    return 0


def run_pain(args, settings: Settings) -> int:
    from footpod.contract import iso
    from monitor.ask import publish_pain

    report = publish_pain(settings, args.runner, args.score, args.flag, args.during, args.worsening)
    print(f"published pain {report.score}/10 for {args.runner} at {iso(report.ts)}")
    return 0


def run_import(args, settings: Settings) -> int:
    from footpod.contract import is_runner_name
    from ingest.importer import run_import as import_files

    if not is_runner_name(args.runner):
        raise UsageError(f"runner '{args.runner}' must be 1-64 of A-Z a-z 0-9 _ . -")
    if not args.paths and args.watch is None:
        raise UsageError("name FIT files or folders to import, or a folder to --watch")
    if args.watch is not None and not args.watch.is_dir():
        raise UsageError(f"--watch {args.watch}: not a folder")
    return import_files(
        settings, args.paths, args.runner, args.watch, args.poll_s, console, progress=not args.no_progress
    )


def run_notify_test(args, settings: Settings) -> int:
    from rich.table import Table

    from alerts.notify import send_test
    from footpod.roster import load_roster

    results = send_test(load_roster(settings.roster), args.runner)
    if not results:
        console.print(f"{args.runner} and its team have no notification targets in the roster (`notify`)")
        return 1
    table = Table(title=f"notify-test {args.runner}", title_justify="left")
    for column in ("for", "target", "sent", "answer"):
        table.add_column(column)
    for owner, url, target, answer in results:
        sent = f"{target.min_severity} and above" + (", daily status" if target.daily_status else "")
        table.add_row(owner, url, sent, "[green]OK[/green]" if answer.ok else f"[red]{answer.reason}[/red]")
    Console().print(table)
    return 0 if all(answer.ok for *_, answer in results) else 1


def run_gateway(args, settings: Settings) -> int:
    from ingest.gateway.gateway import run_gateway as gateway

    if args.speedup != 1.0 and not args.simulate:
        raise FootpodError("--speedup works with --simulate only")
    return _run_async(
        gateway(
            settings,
            simulate=args.simulate,
            speedup=args.speedup,
            outbox_path=args.outbox,
            max_queued=args.max_queued,
            client_id=args.client_id,
            view=not args.no_view and console.is_terminal,
            console=console,
            ready=lambda: _mark_ready(settings, "gateway"),
        )
    )


def run_dashboards(args, settings: Settings) -> int:
    if getattr(args, "dashboards_action", None) == "serve":
        return serve_dashboards(args, settings)
    if getattr(args, "dashboards_action", None) == "grafana-sync":
        return grafana_sync(args, settings)
    if getattr(args, "dashboards_action", None) == "add-coach":
        return grafana_add_coach(args, settings)
    from dashboards.build import write_all

    out_dir = args.out_dir or Path(__file__).resolve().parent.parent / "dashboards" / "json"
    for path in write_all(out_dir):
        console.print(f"wrote {path}")
    return 0


def _roster_teams(args, settings: Settings) -> list[str]:
    from dashboards.teams import teams_of
    from footpod.roster import load_roster

    path = args.roster or settings.roster
    if path is None:
        raise UsageError("no roster: set FOOTPOD_ROSTER or pass --roster (its teams get their folders)")
    return teams_of(load_roster(path))


def _grafana(args, settings: Settings):
    try:
        from dashboards.grafana_sync import connect
    except ImportError as error:
        raise UsageError(
            f"this command needs grafana-client ({error.name} is missing): pip install 'footpod-monitor[grafana]'"
        ) from error
    url = args.url or settings.grafana_url
    if not url:
        raise UsageError("no Grafana address: pass --url https://HOST:3000 or set FOOTPOD_GRAFANA_URL")
    if not url.startswith(("https://", "http://")):
        raise UsageError(f"--url {url}: not an http(s):// address")
    if settings.grafana_admin_password is None:
        raise UsageError("no Grafana admin password: set FOOTPOD_GRAFANA_ADMIN_PASSWORD_FILE (or _PASSWORD)")
    return url, connect(url, settings.grafana_admin_user, settings.grafana_admin_password.get_secret_value())


def _changes_table(title: str, changes) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("what", "name", "done"):
        table.add_column(column, overflow="fold")
    for change in changes:
        table.add_row(change.kind, change.name, change.action)
    Console().print(table)


def grafana_sync(args, settings: Settings) -> int:
    from rich.table import Table

    from dashboards.teams import plan, plan_rows

    teams = _roster_teams(args, settings)
    if not teams:
        raise UsageError("the roster names no team: nothing to give coaches")
    try:
        plans = plan(teams)
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.dry_run:
        table = Table(title="Grafana per team (dry run: nothing sent)")
        for column in ("team", "folder", "dashboards", "Grafana team", "on the folder"):
            table.add_column(column, overflow="fold")
        for row in plan_rows(plans):
            table.add_row(*row)
        Console().print(table)
        return 0
    url, api = _grafana(args, settings)
    from dashboards import grafana_sync as applying

    with applying.answers_of(url):
        changes = applying.sync(api, plans)
    _changes_table(f"Grafana at {url}", changes)
    return 0


def grafana_add_coach(args, settings: Settings) -> int:
    from dashboards.teams import check_team

    try:
        check_team(args.team)
    except ValueError as error:
        raise UsageError(f"--team: {error}") from error
    if "@" not in args.email or any(space in args.email for space in " \t\n"):
        raise UsageError(f"{args.email!r} is not an e-mail address")
    if args.roster or settings.roster:
        known = _roster_teams(args, settings)
        if args.team not in known:
            raise UsageError(f"team {args.team!r} is not in the roster (its teams: {', '.join(known) or 'none'})")
    password = None
    if args.password_file is not None:
        try:
            password = args.password_file.read_text().removesuffix("\n").removesuffix("\r")
        except OSError as error:
            raise UsageError(f"--password-file {args.password_file}: cannot read it ({error.strerror})") from error
        if not password:
            raise UsageError(f"--password-file {args.password_file}: empty")
    url, api = _grafana(args, settings)
    from dashboards import grafana_sync as applying

    with applying.answers_of(url):
        changes, made = applying.add_coach(api, args.email, args.team, password=password, name=args.name)
    _changes_table(f"Grafana at {url}", changes)
    if made:
        print(f"{args.email} logs in at {url} with the password {made}")
        print("(shown once: hand it over privately and ask them to change it under Profile > Change password)")
    return 0


def serve_dashboards(args, settings: Settings) -> int:
    from dashboards.serve import TeamSource, influx_query, make_server

    query = influx_query(settings.influx_url, settings.influx_bucket, settings.influx_token.get_secret_value())
    try:
        server = make_server(TeamSource(query, grafana_url=settings.grafana_url), args.host, args.port)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error}") from error
    console.print(f"team page on http://{args.host}:{server.server_port}/ (Ctrl-C stops it)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_export(args, settings: Settings) -> int:
    from monitor.data import export

    for name, rows, path in export(settings, args.runner, args.out):
        print(f"{name}: {rows} rows -> {path}")
    print(f"all of it -> {args.out / (args.runner + '.json')}")
    return 0


def run_forget(args, settings: Settings) -> int:
    from monitor.data import check_runner, forget, stored_counts

    check_runner(args.runner)
    if not args.yes:
        counts = stored_counts(settings, args.runner)
        print(f"{args.runner}: " + ", ".join(f"{name} {n}" for name, n in counts.items()) + " points stored")
        raise UsageError(f"nothing deleted: add --yes to delete {args.runner}'s data everywhere")
    for line in forget(settings, args.runner):
        print(line)
    return 0


def _run_async(coro) -> int:
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.close()
    return 0


def _mark_ready(settings: Settings, name: str) -> None:
    """A stage says it accepts work by touching a file `up` watches."""
    run_dir = settings.data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / f"{name}.ready").touch()


def _run_faust(stage, settings: Settings, name: str, log_level: str) -> int:
    """Run a stage's Faust worker; it says it is ready once Faust has started and its own
    connections (store, MQTT) are open."""
    import faust

    from footpod.kafka import ensure_topics

    _serve_metrics(settings, name, stage.health)
    _tune_gc()
    # production brokers do not create topics on first use; the local one needs them too
    asyncio.run(ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions))

    class Worker(faust.Worker):
        async def on_startup_finished(self) -> None:
            await super().on_startup_finished()
            await stage.until_ready()
            _mark_ready(settings, name)

    level = "warn" if log_level == "warning" else log_level
    # our own log set-up stays (footpod/logs.py): JSON lines off a terminal
    worker = Worker(stage.app, loglevel=level, quiet=True, override_logging=False)
    if not sys.stdout.isatty():
        worker.spinner = None  # its cursor codes would break the log's JSON lines
    worker.execute_from_commandline()
    return 0


COMMANDS = {
    "up": run_up,
    "bridge": run_bridge,
    "stream": run_stream,
    "alerts": run_alerts,
    "simulate": run_simulate,
    "status": run_status,
    "pain": run_pain,
    "dashboards": run_dashboards,
    "import": run_import,
    "notify-test": run_notify_test,
    "gateway": run_gateway,
    "export": run_export,
    "forget": run_forget,
}

if __name__ == "__main__":
    sys.exit(main())
