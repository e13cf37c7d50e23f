"""What a rule decides: the input of an alert, before it has an id, a team or a wire format."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from footpod.contract import Severity


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    severity: Severity
    action: str
    ts_ms: int  # the event time that triggered it
    message: str
    details: dict[str, bool | int | float | str | None]


def km(value: float) -> str:
    return f"{value:.1f} km"
