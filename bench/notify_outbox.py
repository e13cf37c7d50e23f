"""What a notification costs the alert worker's loop: `Notifier.offer` (one SQLite transaction) per alert.

    .venv/bin/python bench/notify_outbox.py [ALERTS]

Prints the time per offered alert (two targets each) as median, p99 and max, on the disk of a
temporary directory; the sending thread is not started.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from alerts.notify import Notifier
from footpod.contract import Alert
from footpod.roster import Roster, RosterFile
from footpod.settings import Settings


class _Fixed(RosterFile):
    def __init__(self, roster: Roster):
        self._roster = roster

    @property
    def current(self) -> Roster:
        return self._roster


def main(count: int = 5000) -> None:
    roster = Roster.model_validate(
        {
            "teams": {"t": {"notify": ["json://127.0.0.1:9/coach"]}},
            "runners": {"r": {"team": "t", "notify": ["json://127.0.0.1:9/r"]}},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        notifier = Notifier(Settings(notify_outbox=Path(tmp) / "outbox.sqlite"), _Fixed(roster))
        times = []
        for n in range(count):
            alert = Alert(
                id=f"id-{n}",
                runner="r",
                team="t",
                ts="2026-11-24T07:41:00Z",
                rule="progression",
                severity="warning",
                action="hold",
                message="31.2 km in the last 7 days, 18 % more.",
                details={},
            )
            started = time.perf_counter()
            notifier.offer(alert)
            times.append(time.perf_counter() - started)
    times.sort()
    print(
        f"{count} alerts offered, 2 targets each: median {statistics.median(times) * 1e6:.0f} µs, "
        f"p99 {times[int(0.99 * len(times))] * 1e6:.0f} µs, max {times[-1] * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
