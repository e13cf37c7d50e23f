"""When the alert worker publishes a status, as a pure function of a clock value (CONTRACT.md: a
status after every run, every 10 s during one). When it decides a pain report is
`alerts.rules.pain_gate.settle_at`'s."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

HELD_GRACE = 0.1
"""Ours: how long past its turn a held live status waits for a newer one, as a share of the pace
(1 s of the 10 s): a runner sending once a second sends one within it, so the status that goes out
at its turn is the newest, not one up to a second old (README "Speed")."""


class StatusPace(BaseModel):
    """One runner's live-status pace: when a live status was last published, and whether a newer one
    is held back. What is held is only that fact: the worker makes the status when its turn comes,
    from the runner's latest update (a live runner's update arrives every second, its status goes out
    every 10 s: making each one and dropping nine of ten was a fifth of the worker's time)."""

    model_config = ConfigDict(frozen=True)

    last_live_s: float | None = None
    held: bool = False

    def offer(self, live: bool, now_s: float, interval_s: float, urgent: bool = False) -> tuple[StatusPace, bool]:
        """The pace after a status (`live` or not) is offered at `now_s`, and whether it goes now.

        A final status, or one with a new alert (`urgent`), goes at once; a live one at most every
        `interval_s`, the latest held back until its turn."""
        if live and not urgent and self.last_live_s is not None and now_s - self.last_live_s < interval_s:
            return (self if self.held else StatusPace(last_live_s=self.last_live_s, held=True)), False
        return (StatusPace(last_live_s=now_s) if live else AT_REST), True

    def release(self, now_s: float, interval_s: float) -> tuple[StatusPace, bool]:
        """Whether the held status goes now: once its turn has come and gone by `HELD_GRACE` with no newer
        status offered. A runner still sending gets the newer one at its turn (`offer`), one who paused
        the held one (live: only live statuses are held)."""
        due_s = interval_s * (1 + HELD_GRACE)
        if not self.held or (self.last_live_s is not None and now_s - self.last_live_s < due_s):
            return self, False
        return StatusPace(last_live_s=self.last_live_s).offer(True, now_s, interval_s)


AT_REST = StatusPace()
"""The pace of a runner with no live status published lately and none held: one, shared by every
such runner (a model is frozen), not 500 bytes each (README "Speed")."""
