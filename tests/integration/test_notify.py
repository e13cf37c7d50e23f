"""Notifications on real servers (FAULTS.md row 18): alerts of the real pipeline reach an SMTP server and
an HTTP webhook the test runs, once each, even with the webhook down and the alert worker killed -9."""

from __future__ import annotations

import email
import json
import re
import signal
import socket
import threading
import time
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.integration.stack import ROSTER
from tests.integration.training import DAY_MS, run

HOUR_MS = 3_600_000
QUIET_S = 5.0  # watched for doubles after the last expected delivery: over twice the longest retry wait (2 s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """An HTTP receiver for Apprise's json:// targets: answers `answer` (200 or 500), or is not listening."""

    def __init__(self) -> None:
        self.port = free_port()
        self.answer = 200
        self.accepted: list[tuple[str, dict]] = []  # (path, JSON body) of the requests answered 200
        self.refused = 0  # requests answered with an error
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def start(self) -> None:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with webhook.lock:
                    if webhook.answer == 200:
                        webhook.accepted.append((self.path.strip("/"), body))
                    else:
                        webhook.refused += 1
                    self.send_response(webhook.answer)
                    self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Not listening at all: connections are refused."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def ledger(self) -> Counter:
        """How many times each (path, first line of the body) was accepted."""
        with self.lock:
            return Counter((path, body["message"].split("\n")[0]) for path, body in self.accepted)


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], str, str]] = []  # (recipients, subject, plain-text body)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        text = next(
            part.get_payload(decode=True).decode() for part in message.walk() if part.get_content_type() == "text/plain"
        )
        self.mails.append((envelope.rcpt_tos, message["Subject"], text))
        return "250 OK"


@pytest.fixture
def webhook():
    hook = Webhook()
    hook.start()
    yield hook
    hook.stop()


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.url = f"mailto://127.0.0.1:{controller.port}?from=footpod@example.org&to=coach@example.org"
    yield mailbox
    controller.stop()


@pytest.fixture
def roster(pipeline):
    """Adds runners and teams to the session's roster; the workers pick the edit up within a second."""
    path = pipeline.data_dir / "roster.yaml"

    def extend(runners: str, teams: str) -> None:
        path.write_text(ROSTER + runners + "teams:\n" + teams)
        time.sleep(2.5)

    yield extend
    path.write_text(ROSTER)


def unique_alerts(watcher, prefix: str) -> dict[str, dict]:
    """Alerts seen on MQTT by id (a restarted worker may publish one again: MQTT is at least once)."""
    return {alert["id"]: alert for alert in watcher.on(prefix)}


def wait_delivered(webhook: Webhook, expected: Counter, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not expected <= webhook.ledger():
        time.sleep(0.2)
    time.sleep(QUIET_S)


def test_alerts_reach_the_runners_webhook_and_the_coachs_mail_once_each(pipeline, watch, phone, webhook, smtp, roster):
    # 458 km on the shoes: the 480 km mark falls on the run of 5 days ago, within the 7 days whose
    # alerts are published (RULES.md §7: older history is stored, not pushed)
    roster(
        '  nora: {team: nightjars, shoes: {nora-pod: 458}, notify: ["' + webhook.url("nora") + '"]}\n',
        '  nightjars: {notify: [{url: "' + smtp.url + '"}]}\n',
    )
    watcher = watch("alerts/+/nora")
    now = int(time.time() * 1000)
    started = time.monotonic()
    for days_ago in (12, 10, 8, 5, 3, 1):
        phone("footpod/nora/samples", run("nora-pod", now - days_ago * DAY_MS, 6.0))
    watcher.wait_for(lambda: [a for a in watcher.on("alerts/") if a["rule"] == "shoe_wear"], what="shoe_wear")
    print(f"\nfirst alert on MQTT {time.monotonic() - started:.1f} s after the runs were published (webhook up)")
    phone("footpod/nora/pain", {"ts": now - 20 * HOUR_MS, "score": 4})  # after the last run: pain gate
    watcher.wait_for(lambda: [a for a in watcher.on("alerts/") if a["rule"] == "pain_gate"], what="pain_gate")
    phone("footpod/nora/pain", {"ts": now - 10 * HOUR_MS, "score": 2, "flags": ["swelling"]})
    watcher.wait_for(lambda: [a for a in watcher.on("alerts/") if a["rule"] == "red_flag"], what="red_flag")

    alerts = unique_alerts(watcher, "alerts/")
    messages = [a["message"] for a in alerts.values()]
    assert len(set(messages)) == len(messages), "the ledger keys on messages: they must differ"
    # the runner's plain URL takes every severity
    expected = Counter(("nora", message) for message in messages)
    wait_delivered(webhook, expected)
    assert webhook.ledger() == expected, (webhook.ledger(), expected)
    titles = {body["title"] for _, body in webhook.accepted}
    assert {"Shoes wearing out", "Knee pain: training changed", "Knee red flag: see a clinician"} <= titles

    # the team's mail takes warning and above (its default): the pain gate and the red flag, not the shoes
    coach = [a for a in alerts.values() if a["severity"] in ("warning", "critical")]
    assert {a["rule"] for a in coach} >= {"pain_gate", "red_flag"}
    deadline = time.monotonic() + 30
    while len(smtp.mails) < len(coach) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    assert sorted(subject for _, subject, _ in smtp.mails) == sorted(
        {
            "pain_gate": "Knee pain: training changed",
            "red_flag": "Knee red flag: see a clinician",
            "progression": "Weekly distance up too fast",
            "see_physio": "Knee pain not settling: see a physio",
        }.get(a["rule"], a["rule"])
        for a in coach
    )
    for recipients, _subject, text in smtp.mails:
        assert recipients == ["coach@example.org"]
        alert = next(a for a in coach if text.startswith(a["message"]))
        assert "nora (nightjars)" in text, text
        assert alert["severity"] != "info"


def test_a_target_down_and_a_killed_worker_lose_no_notification_and_double_none(
    pipeline, watch, phone, webhook, roster
):
    base = [f"fa{n}" for n in range(16, 24)]  # their alerts come while the webhook is up: the latency to compare
    first, second = [f"fa{n}" for n in range(8)], [f"fa{n}" for n in range(8, 16)]
    daily = f'{{url: "{webhook.url("daily")}", min_severity: critical, daily_status: true}}'  # no alerts
    roster(
        "".join(
            f'  {r}: {{team: faulters, shoes: {{{r}-pod: 470}}, notify: ["{webhook.url(r)}"'
            f"{', ' + daily if r == 'fa0' else ''}]}}\n"
            for r in base + first + second
        ),
        f'  faulters: {{notify: [{{url: "{webhook.url("coach")}", min_severity: info}}]}}\n',
    )
    watcher = watch("alerts/faulters/+", "status/fa0")
    now = int(time.time() * 1000)

    def alerts_after_runs(runners: list[str]) -> float:
        """Seconds from publishing one run each to the last of their alerts on MQTT."""
        started = time.monotonic()
        for r in runners:
            phone(f"footpod/{r}/samples", run(f"{r}-pod", now - DAY_MS, 12.0))
        watcher.wait_for(lambda: {a["runner"] for a in watcher.on("alerts/")} >= set(runners), what="alerts")
        return time.monotonic() - started

    up_s = alerts_after_runs(base)
    webhook.answer = 500
    down_s = alerts_after_runs(first)
    print(
        f"\nalerts of {len(base)} runners on MQTT {up_s:.1f} s after their runs with the webhook up, "
        f"{down_s:.1f} s with it answering 500"
    )
    watcher.wait_for(lambda: webhook.refused >= 2, what="the webhook refusing")

    alerts_stage = pipeline.stages["alerts"]
    alerts_stage.send_signal(signal.SIGKILL)
    alerts_stage.wait(10)
    webhook.stop()  # now not listening at all
    restarted_at = time.time()
    pipeline.start_stage("alerts")
    pipeline.wait_ready("alerts")
    for r in second:
        phone(f"footpod/{r}/samples", run(f"{r}-pod", now - DAY_MS, 12.0))
    watcher.wait_for(
        lambda: {a["runner"] for a in watcher.on("alerts/")} >= set(base + first + second),
        timeout_s=120,
        what="the alerts after the restart",
    )
    # a status as of now for a runner the restarted worker knows only from the store
    watcher.wait_for(
        lambda: [s for s in watcher.on("status/fa0") if _epoch_s(s["as_of"]) >= restarted_at],
        what="fa0's status as of now after the restart",
    )
    # and the day's midnight load point for every known runner, fa0 included, though it has not run today
    midnight = int(restarted_at * 1000) // DAY_MS * DAY_MS
    fa0_end = next(a for a in watcher.on("alerts/") if a["runner"] == "fa0")["ts"]
    expected_km = 12.0 if _epoch_s(fa0_end) * 1000 <= midnight else 0.0  # the run counts where it ends
    points = _wait_rows(pipeline, f'SELECT "week_km" FROM "load" WHERE "runner" = \'fa0\' AND time = {midnight}ms')
    assert abs(points[0][1] - expected_km) < 0.01, (points, fa0_end)
    time.sleep(3)  # several more tries against a closed port
    refused_before_up = webhook.refused
    webhook.start()
    webhook.answer = 200
    back_at = time.monotonic()

    alerts = unique_alerts(watcher, "alerts/")
    assert {a["rule"] for a in alerts.values()} == {"shoe_wear"} and len(alerts) == len(base + first + second)
    expected = Counter()
    for alert in alerts.values():
        expected[(alert["runner"], alert["message"])] += 1
        expected[("coach", alert["message"])] += 1
    wait_delivered(webhook, expected)
    ledger = webhook.ledger()
    # the restarted worker's first round sent fa0's day, once, to its daily-status target only
    dailies = {key: count for key, count in ledger.items() if key[0] == "daily"}
    assert len(dailies) == 1 and list(dailies.values()) == [1], dailies
    ((_, line),) = dailies
    assert re.fullmatch(
        r"\w+day: \d+\.\d of \d+\.\d km left this week; knee gate: progress"
        r"|\w+day: 12\.0 km in the last 7 days; knee gate: progress",
        line,
    ), line
    ledger = ledger - Counter(dailies)
    lost = sum((expected - ledger).values())
    double = sum(count - 1 for count in ledger.values() if count > 1)
    unexpected = sum((ledger - expected).values()) - double
    print(
        f"{len(alerts)} alerts, {sum(expected.values())} deliveries expected; {refused_before_up} tries answered "
        f"500 around the kill; all delivered {time.monotonic() - back_at - QUIET_S:.1f} s after the webhook "
        f"came back; lost {lost}, double {double}, unexpected {unexpected}"
    )
    assert (lost, double, unexpected) == (0, 0, 0), (expected, ledger)


def _wait_rows(stack, influxql: str, timeout_s: float = 30) -> list[list]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack.influx_url}/query", params={"db": "footpod", "q": influxql, "epoch": "ms"})
        series = response.json()["results"][0].get("series")
        if series:
            return series[0]["values"]
        time.sleep(0.5)
    raise AssertionError(f"no rows for {influxql}")


def _epoch_s(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_notify_test_sends_to_each_target_and_fails_when_one_does(tmp_path, webhook):
    import os
    import subprocess
    import sys

    closed = f"json://127.0.0.1:{free_port()}/coach"  # nobody listens there
    roster = tmp_path / "roster.yaml"
    env = {**os.environ, "FOOTPOD_ROSTER": str(roster), "COLUMNS": "200"}

    def notify_test():
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", "notify-test", "alice"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    roster.write_text(f'runners:\n  alice: {{team: harriers, notify: ["{webhook.url("alice")}"]}}\n')
    result = notify_test()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(path, body["title"]) for path, body in webhook.accepted] == [("alice", "footpod-monitor test")]
    assert "OK" in result.stdout

    roster.write_text(roster.read_text() + f'teams:\n  harriers: {{notify: ["{closed}"]}}\n')
    result = notify_test()
    assert result.returncode == 1
    assert "team harriers" in result.stdout and "Connection error" in result.stdout, result.stdout
    assert len(webhook.accepted) == 2  # alice's target got its second test all the same
