"""Every Prometheus metric of footpod-monitor, defined once, and the small HTTP server each stage
starts on FOOTPOD_METRICS_PORT: `/metrics` (Prometheus text format) and `/healthz` (200 when the
stage is connected and ready, 503 otherwise, with a short JSON reason).

A stage process runs one stage, so the `stage` label tells apart only what several stages share
(samples in, the store's writer, consumer lag).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("footpod.metrics")

# Per-stage default ports of FOOTPOD_METRICS_PORT (README, "Metrics and health"); 0 turns it off.
DEFAULT_PORTS = {"bridge": 9401, "stream": 9402, "alerts": 9403, "gateway": 9404}

SAMPLES_IN = Counter("footpod_samples_in", "Footpod samples taken in by the stage", ["stage"])
PAIN_IN = Counter("footpod_pain_reports_in", "Knee-pain reports taken in by the stage", ["stage"])
DEAD_LETTERS = Counter("footpod_dead_letters", "Records sent to footpod.deadletter, by reason", ["reason"])
KAFKA_HANDOFF_ERRORS = Counter("footpod_kafka_handoff_errors", "Kafka sends that failed and were retried")

STORE_POINTS_WRITTEN = Counter("footpod_store_points_written", "Points the time-series store took", ["stage"])
STORE_POINTS_REFUSED = Counter("footpod_store_points_refused", "Points the store refused as bad (dropped)", ["stage"])
STORE_WRITE_ERRORS = Counter(
    "footpod_store_write_errors", "Batch writes the store did not take now (retried)", ["stage"]
)
STORE_BACKLOG = Gauge("footpod_store_backlog_points", "Points waiting for the time-series store", ["stage"])

CONSUMER_LAG = Gauge(
    "footpod_consumer_lag_records",
    "Kafka records not yet committed: end offset minus committed offset",
    ["stage", "topic", "partition"],
)

ALERTS = Counter("footpod_alerts_published", "Alerts published, by rule and severity", ["rule", "severity"])
NOTIFICATIONS = Counter("footpod_notifications", "Notification sends, by outcome (sent, failed, dead)", ["outcome"])
READY = Gauge("footpod_ready", "1 when the stage is connected and ready, else 0", ["stage"])

# Ours: a sample is live when its timestamp is at most this old as a stage handles it; older ones are
# a sync or an import catching up, and say nothing of how far behind live the stage runs
LIVE_WITHIN_S = 60.0
LIVE_DELAY = Histogram(
    "footpod_live_delay_seconds",
    "Seconds from a live sample's timestamp (its device's clock) until the stage has handled it: the "
    "bridge has it in Kafka, the stream has counted it and sent its update, the alert worker has decided "
    "on it; samples older than 60 s are not observed",
    ["stage"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
)


def observe_live(stage: Histogram, now_ms: int, timestamps: Iterable[int]) -> int:
    """Observe, in a stage's `LIVE_DELAY`, each of `timestamps` (ms) within `LIVE_WITHIN_S` of `now_ms`; a
    timestamp ahead of `now_ms` (a device's clock) counts as no delay, as long as it is within as much
    ahead. Returns how many were observed."""
    observed = 0
    for ts in timestamps:
        delay_s = (now_ms - ts) / 1000
        if -LIVE_WITHIN_S <= delay_s <= LIVE_WITHIN_S:
            stage.observe(max(delay_s, 0.0))
            observed += 1
    return observed


Health = Callable[[], "tuple[bool, str]"]


def dead_letter_reason(reason: str) -> str:
    """The bounded label of a dead letter's reason: its kind, before any detail."""
    return reason.split(":")[0].strip()[:60] or "unknown"


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


def health_answer(health: Health) -> tuple[int, bytes]:
    """(status, JSON body) of `/healthz` for a stage's health callback."""
    try:
        ok, reason = health()
    except Exception as error:  # a health check that fails is an answer too
        ok, reason = False, f"health check failed: {type(error).__name__}: {error}"
    body = json.dumps({"status": "ok" if ok else "unavailable", "reason": reason}).encode()
    return (200 if ok else 503), body


class _Handler(BaseHTTPRequestHandler):
    health: Health
    stage: str

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            status, body, kind = 200, render(), CONTENT_TYPE_LATEST
        elif path == "/healthz":
            status, body = health_answer(self.health)
            kind = "application/json"
            READY.labels(self.stage).set(1 if status == 200 else 0)
        else:
            status, body, kind = 404, b"not found: try /metrics or /healthz\n", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
        log.debug("%s %s", self.address_string(), format % args)


def serve(stage: str, port: int | None, host: str, health: Health) -> ThreadingHTTPServer | None:
    """Serve `/metrics` and `/healthz` from a daemon thread; port None is the stage's default, 0 is off.
    A port that cannot be bound is logged and the stage runs on without it."""
    port = DEFAULT_PORTS.get(stage, 0) if port is None else port
    if port == 0:
        return None
    handler = type("Handler", (_Handler,), {"health": staticmethod(health), "stage": stage})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        log.error(
            "metrics and /healthz of %s not served: cannot listen on %s:%d (%s); set FOOTPOD_METRICS_PORT",
            stage,
            host,
            port,
            error,
        )
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"footpod-metrics-{stage}", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics, health on /healthz", host, server.server_port)
    return server
