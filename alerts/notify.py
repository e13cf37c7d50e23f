"""Notifications (CONTRACT.md, roster `notify`): every published alert to its runner's and its team's
targets, once per (alert id, target), through a durable outbox, never on the pipeline's path.

Pure: who gets an alert (`targets_for`), what it says (`title_of`, `body_of`, `daily_line`), how long
to wait after a failure (`backoff_s`). I/O: `Outbox` (SQLite in the data dir) and `Notifier`, whose
daemon thread sends through Apprise. A row is marked delivered only after its target answered OK, so
a worker killed mid-send sends it again after a restart; a target that keeps failing is retried with
doubling waits for `notify_retry_for_s`, then dead-lettered: the row stays in the outbox with state
`dead` and the last answer as the reason, and the worker logs it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from footpod import metrics
from footpod.contract import Alert, Severity, Status
from footpod.roster import NotifyTarget, Roster, RosterFile
from footpod.settings import Settings

log = logging.getLogger("footpod.notify")

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
NOTIFY_TYPE: dict[str, str] = {"info": "info", "warning": "warning", "critical": "failure"}  # Apprise's names
MAX_IDLE_S = 30.0  # the sender looks at the outbox at least this often
# Ours: delivered rows are kept this long, past the alert worker's 80-day look-back, so an alert
# derived again from old facts is still known as sent; dead rows stay until someone looks.
KEEP_DELIVERED_S = 90 * 86_400
PRUNE_EVERY_S = 3600.0

# Each rule in the words a lock screen shows (RULES.md names the rules).
TITLES: dict[str, str] = {
    "progression": "Weekly distance up too fast",
    "acwr_elevated": "Training load rising",
    "acwr_high": "Training load too high",
    "budget_reached": "Weekly budget reached",
    "pain_gate": "Knee pain: training changed",
    "red_flag": "Knee red flag: see a clinician",
    "see_physio": "Knee pain not settling: see a physio",
    "cadence_low": "Cadence low",
    "cadence_drop": "Cadence dropped",
    "cadence_target": "Cadence on target",
    "rtr_over_limit": "Return to run: over this phase's limit",
    "rtr_complete": "Return to run complete",
    "shoe_wear": "Shoes wearing out",
    "pain_mile": "Pain at the same point of each run",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def title_of(alert: Alert) -> str:
    """The rule in words; a rule without a title reads as its name."""
    return TITLES.get(alert.rule, alert.rule.replace("_", " ").capitalize())


def body_of(alert: Alert) -> str:
    """The alert's message (its numbers and what to do), then whose it is and when it happened."""
    when = datetime.fromisoformat(alert.ts.replace("Z", "+00:00")).strftime("%a %d %b %H:%M UTC")
    return f"{alert.message}\n{alert.runner} ({alert.team}), {when}"


def daily_line(status: Status, allowed_week_km: float | None) -> str:
    """One line a runner reads each morning: "Tuesday: 12.4 of 23.0 km left this week; knee gate: progress"."""
    day = WEEKDAYS[datetime.fromisoformat(status.as_of.replace("Z", "+00:00")).weekday()]
    gate = f"knee gate: {status.gate}"
    if allowed_week_km is None or status.budget_km is None:
        return f"{day}: {status.week_km:.1f} km in the last 7 days; {gate}"
    return f"{day}: {status.budget_km:.1f} of {allowed_week_km:.1f} km left this week; {gate}"


def daily_prefix(runner: str) -> str:
    return f"daily:{runner}:"


def daily_key(runner: str, as_of_ms: int, hour_utc: int) -> str | None:
    """The outbox key of the day's status message, or None before `hour_utc` (one message a day)."""
    moment = datetime.fromtimestamp(as_of_ms / 1000, tz=UTC)
    return None if moment.hour < hour_utc else f"{daily_prefix(runner)}{moment.date().isoformat()}"


def receives(target: NotifyTarget, severity: Severity) -> bool:
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[target.min_severity]


def targets_for(roster: Roster, runner: str, team: str) -> list[tuple[str, NotifyTarget]]:
    """(whose, target) for a runner's and its team's targets; a URL listed twice counts once."""
    found: dict[str, tuple[str, NotifyTarget]] = {}
    for owner, targets in ((runner, roster.entry(runner).notify), (f"team {team}", roster.team_targets(team))):
        for target in targets:
            found.setdefault(target.url, (owner, target))
    return list(found.values())


def alert_targets(roster: Roster, alert: Alert) -> list[str]:
    """The URLs an alert goes to: each target of the runner and the team that takes its severity."""
    return [t.url for _, t in targets_for(roster, alert.runner, alert.team) if receives(t, alert.severity)]


def backoff_s(attempts: int, first_s: float, max_s: float) -> float:
    """Wait after the `attempts`-th failure in a row: first_s, doubling, never more than max_s."""
    return min(max_s, first_s * 2 ** min(max(attempts - 1, 0), 60))


def redacted(url: str) -> str:
    """The URL with its secrets masked, for logs and tables."""
    plugin = _apprise().Apprise.instantiate(url)
    return plugin.url(privacy=True).split("?", 1)[0] if plugin else url.split("://", 1)[0] + "://…"


@dataclass(frozen=True)
class Answer:
    """What a target answered: ok, or why not; `permanent` when retrying cannot help."""

    ok: bool
    reason: str = "OK"
    permanent: bool = False


Sender = Callable[[str, str, str, str], Answer]  # (url, title, body, notify type) -> answer


def apprise_send(url: str, title: str, body: str, notify_type: str) -> Answer:
    """Send one message to one target; the answer carries what Apprise logged on failure."""
    apprise = _apprise()
    app = apprise.Apprise()
    if not app.add(url):
        return Answer(False, "Apprise cannot use this URL (see its wiki for the form)", permanent=True)
    result = app.notify(body=body, title=title, notify_type=notify_type)
    if result:
        return Answer(True)
    logs = getattr(result, "logs", None)
    reason = "; ".join(entry.message for entry in logs()) if callable(logs) else ""
    return Answer(False, reason or "the target did not accept the message")


def _apprise():
    import apprise  # imported on first use: loading its plugins takes a moment

    # its warnings come back in each answer (`result.logs()`); we log them once, with the target
    logging.getLogger("apprise").propagate = False
    return apprise


@dataclass(frozen=True)
class Row:
    key: str
    url: str
    title: str
    body: str
    notify_type: str
    created: float
    attempts: int


class Outbox:
    """Messages to send, one row per (key, url): an alert id or a daily key, and a target URL.

    States: `pending` (next_try says when), `delivered` (the target answered OK), `dead` (given up,
    with the reason). One connection per thread; WAL, so the sender never blocks the enqueuer.
    """

    def __init__(self, path: Path, checkpoints: bool = True):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=10, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process; a power cut may lose the last rows
        if not checkpoints:  # the enqueuer only appends to the log; the sender's connection writes it back
            self.db.execute("PRAGMA wal_autocheckpoint=0")
        self.db.execute("""CREATE TABLE IF NOT EXISTS outbox (
            key TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
            notify_type TEXT NOT NULL, created REAL NOT NULL, next_try REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'pending',
            reason TEXT, done REAL, PRIMARY KEY (key, url))""")
        self.db.execute("CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_try)")

    def add(self, key: str, urls: Iterable[str], title: str, body: str, notify_type: str, now: float) -> int:
        """Queue the message for each URL not queued before under this key; return how many were new."""
        rows = [(key, url, title, body, notify_type, now, now) for url in urls]
        if not rows:
            return 0
        before = self.db.total_changes
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO outbox (key, url, title, body, notify_type, created, "
                "next_try) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return self.db.total_changes - before

    def due(self, now: float, limit: int = 500) -> list[Row]:
        cursor = self.db.execute(
            "SELECT key, url, title, body, notify_type, created, attempts FROM outbox "
            "WHERE state = 'pending' AND next_try <= ? ORDER BY created, key LIMIT ?",
            (now, limit),
        )
        return [Row(*values) for values in cursor.fetchall()]

    def next_try(self) -> float | None:
        return self.db.execute("SELECT MIN(next_try) FROM outbox WHERE state = 'pending'").fetchone()[0]

    def delivered(self, row: Row, now: float) -> None:
        self._set(row, "state = 'delivered', done = ?, attempts = attempts + 1, reason = NULL", now)

    def failed(self, row: Row, reason: str, next_try: float) -> None:
        self._set(row, "attempts = attempts + 1, reason = ?, next_try = ?", reason, next_try)

    def postpone(self, row: Row, next_try: float) -> None:
        self._set(row, "next_try = ?", next_try)

    def dead(self, row: Row, reason: str, now: float) -> None:
        self._set(row, "state = 'dead', attempts = attempts + 1, reason = ?, done = ?", reason, now)

    def prune(self, before: float) -> int:
        """Forget rows delivered before `before`; return how many."""
        with self.db:
            return self.db.execute("DELETE FROM outbox WHERE state = 'delivered' AND done < ?", (before,)).rowcount

    def checkpoint(self) -> None:
        """Write the log back into the database file, as far as no reader holds it up."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def forget(self, runner: str, alert_ids: Iterable[str]) -> int:
        """Delete every row of a runner: its alerts' (for every target) and its daily status lines;
        return how many."""
        ids = list(alert_ids)
        prefix = daily_prefix(runner)  # compared exactly: LIKE would ignore case
        cursor = self.db.execute("DELETE FROM outbox WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
        deleted = cursor.rowcount
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor = self.db.execute(f"DELETE FROM outbox WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            deleted += cursor.rowcount
        return deleted

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())

    def close(self) -> None:
        self.db.close()

    def _set(self, row: Row, assignments: str, *values) -> None:
        with self.db:
            self.db.execute(f"UPDATE outbox SET {assignments} WHERE key = ? AND url = ?", (*values, row.key, row.url))


class Notifier:
    """Queues messages in the outbox (on the caller's thread, one small SQLite transaction) and sends
    them from its own daemon thread, so a slow or dead target never holds up the pipeline."""

    def __init__(
        self,
        settings: Settings,
        roster: RosterFile,
        send: Sender = apprise_send,
        clock: Callable[[], float] = time.time,
    ):
        self.settings, self.roster, self.send, self.clock = settings, roster, send, clock
        self.path = settings.notify_outbox_path
        self._outbox: Outbox | None = None  # the enqueuing thread's connection
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- queueing (the alert worker's thread) ---

    def offer(self, alert: Alert) -> int:
        """Queue a published alert for each of its targets; an alert id queued before adds nothing."""
        urls = alert_targets(self.roster.current, alert)
        return self._add(alert.id, urls, title_of(alert), body_of(alert), NOTIFY_TYPE[alert.severity])

    def offer_status(self, status: Status, allowed_week_km: float | None, as_of_ms: int) -> int:
        """Queue the day's status line for the runner's and team's `daily_status` targets, once a day."""
        key = daily_key(status.runner, as_of_ms, self.settings.notify_daily_hour_utc)
        targets = targets_for(self.roster.current, status.runner, status.team)
        urls = [target.url for _, target in targets if target.daily_status]
        if key is None:
            return 0
        return self._add(key, urls, f"{status.runner}: this week", daily_line(status, allowed_week_km), "info")

    def _add(self, key: str, urls: list[str], title: str, body: str, notify_type: str) -> int:
        """Queue and wake the sender; an outbox that fails is logged, never raised into the pipeline."""
        if not urls:
            return 0
        try:
            if self._outbox is None:
                self._outbox = Outbox(self.path, checkpoints=False)
            added = self._outbox.add(key, urls, title, body, notify_type, self.clock())
        except sqlite3.Error as error:
            log.error("notification %s not queued: outbox %s: %s", key, self.path, error)
            return 0
        if added:
            self._wake.set()
        return added

    # --- sending (the notifier's own thread) ---

    async def run(self) -> None:
        """Start the sending thread (a Faust task calls this once at start)."""
        self.start()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._send_forever, name="footpod-notify", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _send_forever(self) -> None:
        outbox = Outbox(self.path)
        pruned_at = 0.0
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self.deliver_due(outbox)
                    if self.clock() - pruned_at >= PRUNE_EVERY_S:
                        pruned_at = self.clock()
                        outbox.prune(pruned_at - KEEP_DELIVERED_S)
                    outbox.checkpoint()
                except sqlite3.Error as error:
                    log.error("notification outbox %s: %s", self.path, error)
                next_try = outbox.next_try()
                wait = MAX_IDLE_S if next_try is None else min(MAX_IDLE_S, max(0.0, next_try - self.clock()))
                self._wake.wait(wait)
        finally:
            outbox.close()

    def deliver_due(self, outbox: Outbox) -> int:
        """Send every row that is due, oldest first; return how many were delivered.

        A target that fails is not tried again in this pass: its other rows wait with it.
        """
        settings = self.settings
        delivered = 0
        waiting: dict[str, float] = {}  # url -> next try, for targets that failed in this pass
        for row in outbox.due(self.clock()):
            if self._stop.is_set():
                break
            if row.url in waiting:
                outbox.postpone(row, waiting[row.url])
                continue
            try:
                answer = self.send(row.url, row.title, row.body, row.notify_type)
            except Exception as error:  # a target's plugin failing must not stop the others
                answer = Answer(False, f"{type(error).__name__}: {error}")
            now = self.clock()
            if answer.ok:
                outbox.delivered(row, now)
                delivered += 1
                metrics.NOTIFICATIONS.labels("sent").inc()
            elif answer.permanent or now - row.created >= settings.notify_retry_for_s:
                outbox.dead(row, answer.reason, now)
                metrics.NOTIFICATIONS.labels("dead").inc()
                log.error(
                    "notification %s to %s dead-lettered after %d tries: %s",
                    row.key,
                    redacted(row.url),
                    row.attempts + 1,
                    answer.reason,
                )
            else:
                waiting[row.url] = now + backoff_s(
                    row.attempts + 1, settings.notify_backoff_s, settings.notify_backoff_max_s
                )
                outbox.failed(row, answer.reason, waiting[row.url])
                metrics.NOTIFICATIONS.labels("failed").inc()
                # the first failure is news; the retries of the next hours are not
                log.log(
                    logging.WARNING if row.attempts == 0 else logging.DEBUG,
                    "notification %s to %s failed (try %d), again in %.1f s: %s",
                    row.key,
                    redacted(row.url),
                    row.attempts + 1,
                    waiting[row.url] - now,
                    answer.reason,
                )
        return delivered


def send_test(roster: Roster, runner: str, send: Sender = apprise_send) -> list[tuple[str, str, NotifyTarget, Answer]]:
    """A test message to each of the runner's and its team's targets: (whose, redacted URL, target, answer)."""
    team = roster.team_of(runner)
    results = []
    for owner, target in targets_for(roster, runner, team):
        body = (
            f"A test from footpod-monitor for {runner} ({team}): alerts of severity {target.min_severity} "
            f"and above will arrive here."
        )
        try:
            answer = send(target.url, "footpod-monitor test", body, "info")
        except Exception as error:
            answer = Answer(False, f"{type(error).__name__}: {error}")
        results.append((owner, redacted(target.url), target, answer))
    return results
