"""MQTT message to Kafka records: parse the topic, validate the payload, sort good from bad.

Pure: the arrival time comes in as an argument. Nothing is dropped: what is not a good sample
or report becomes a dead letter that says why.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from footpod.contract import DeadLetter, PainEvent, PainReport, Sample, SampleBatch, iso, is_runner_name

SAMPLES, PAIN = "samples", "pain"
MAX_SAMPLES_PER_RECORD = 5_000  # keeps one Kafka record well under the broker's 1 MB default
MAX_DEADLETTER_PAYLOAD = 65_536  # characters of a rejected payload kept for inspection

_SAMPLE_LIST = TypeAdapter(list[Sample])


class TopicError(ValueError):
    pass


@dataclass
class Verdict:
    """What one MQTT message becomes: records for Kafka and dead letters."""

    batches: list[SampleBatch] = field(default_factory=list)
    pain: PainEvent | None = None
    rejects: list[DeadLetter] = field(default_factory=list)


def parse_topic(topic: str) -> tuple[str, str]:
    """`footpod/{runner}/samples` or `footpod/{runner}/pain` as (runner, kind)."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "footpod" or parts[2] not in (SAMPLES, PAIN):
        raise TopicError(f"topic '{topic}' is not footpod/{{runner}}/samples or footpod/{{runner}}/pain")
    if not is_runner_name(parts[1]):
        raise TopicError(f"runner '{parts[1]}' in the topic must be 1-64 of A-Z a-z 0-9 _ . -")
    return parts[1], parts[2]


def judge(topic: str, payload: bytes, received_ms: int, max_future_ms: int) -> Verdict:
    """Validate one MQTT message against the contract."""
    verdict = Verdict()
    reject = _rejecter(verdict, topic, received_ms)
    try:
        runner, kind = parse_topic(topic)
    except TopicError as error:
        reject(payload, str(error))
        return verdict
    if kind == PAIN:
        _judge_pain(verdict, runner, payload, received_ms, max_future_ms, reject)
    else:
        _judge_samples(verdict, runner, payload, received_ms, max_future_ms, reject)
    return verdict


def _judge_samples(verdict, runner, payload, received_ms, max_future_ms, reject) -> None:
    good = _fast_path(payload)
    if good is None:
        good = _slow_path(payload, reject)
    if good is None:
        return
    latest = received_ms + max_future_ms
    if any(sample.ts > latest for sample in good):
        kept = []
        for sample in good:
            if sample.ts > latest:
                reject(sample.model_dump_json().encode(), _future_reason(sample.ts, received_ms))
            else:
                kept.append(sample)
        good = kept
    for start in range(0, len(good), MAX_SAMPLES_PER_RECORD):
        chunk = tuple(good[start:start + MAX_SAMPLES_PER_RECORD])
        verdict.batches.append(SampleBatch(runner=runner, received_ms=received_ms, samples=chunk))


def _fast_path(payload: bytes) -> list[Sample] | None:
    """All-good payloads (the usual case) validated in one pass."""
    text = payload.lstrip()
    try:
        if text.startswith(b"["):
            return _SAMPLE_LIST.validate_json(payload) or None
        return [Sample.model_validate_json(payload)]
    except (ValidationError, ValueError):
        return None


def _slow_path(payload: bytes, reject) -> list[Sample] | None:
    """Sample by sample, so that only the bad ones of a batch are rejected."""
    try:
        document = _load_json(payload)
    except ValueError as error:
        reject(payload, f"not JSON: {error}")
        return None
    items = document if isinstance(document, list) else [document]
    if isinstance(document, list) and not document:
        reject(payload, "empty array: no samples")
        return None
    good = []
    for index, item in enumerate(items):
        try:
            good.append(Sample.model_validate(item))
        except ValidationError as error:
            where = f"sample {index}: " if isinstance(document, list) else ""
            reject(_dump(item), where + describe(error))
    return good


def _judge_pain(verdict, runner, payload, received_ms, max_future_ms, reject) -> None:
    try:
        report = PainReport.model_validate(_load_json(payload))
    except ValueError as error:  # ValidationError is a ValueError
        reason = describe(error) if isinstance(error, ValidationError) else f"not JSON: {error}"
        reject(payload, reason)
        return
    if report.ts > received_ms + max_future_ms:
        reject(payload, _future_reason(report.ts, received_ms))
        return
    verdict.pain = PainEvent(runner=runner, received_ms=received_ms, report=report)


def _load_json(payload: bytes) -> Any:
    text = payload.decode("utf-8")  # UnicodeDecodeError is a ValueError

    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not a number JSON allows")

    return json.loads(text, parse_constant=no_constants)


def _future_reason(ts: int, received_ms: int) -> str:
    return f"ts {iso(ts)} is {(ts - received_ms) / 60000:.1f} min in the future (limit 5 min)"


def describe(error: ValidationError) -> str:
    """One line per problem: `field: what is wrong`."""
    parts = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "payload"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def _dump(item: Any) -> bytes:
    try:
        return json.dumps(item).encode()
    except (TypeError, ValueError):
        return repr(item).encode()


def _rejecter(verdict: Verdict, topic: str, received_ms: int):
    def reject(payload: bytes, reason: str) -> None:
        verdict.rejects.append(dead_letter(topic, payload, reason, received_ms))

    return reject


def dead_letter(topic: str, payload: bytes, reason: str, received_ms: int) -> DeadLetter:
    """The raw payload (as text when it is UTF-8, else base64 too), topic, reason and arrival."""
    try:
        text = payload.decode("utf-8")
        b64 = None
    except UnicodeDecodeError:
        text = payload.decode("utf-8", errors="replace")
        b64 = base64.b64encode(payload[:MAX_DEADLETTER_PAYLOAD]).decode()
    if len(text) > MAX_DEADLETTER_PAYLOAD:
        reason = f"{reason} (payload of {len(payload)} bytes, first {MAX_DEADLETTER_PAYLOAD} kept)"
        text = text[:MAX_DEADLETTER_PAYLOAD]
    return DeadLetter(topic=topic, reason=reason, received_at=iso(received_ms), payload=text, payload_b64=b64)
