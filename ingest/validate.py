"""MQTT message to Kafka records: parse the topic, validate the payload, sort good from bad.

Pure: the arrival time comes in as an argument. Nothing is dropped: what is not a good sample
or report becomes a dead letter that says why.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

from footpod.contract import (
    DEVICE_PATTERN,
    EARLIEST_MS,
    LATEST_MS,
    DeadLetter,
    PainEvent,
    PainReport,
    Sample,
    SampleBatch,
    is_runner_name,
    iso,
)
from footpod.records import SampleBatchRecord, SampleRecord

SAMPLES, PAIN = "samples", "pain"
MAX_SAMPLES_PER_MESSAGE = 20_000  # 5.5 h at 1 Hz; a longer run is synced in several messages
MAX_SAMPLES_PER_RECORD = 5_000  # a count bound; the bridge also bounds each record by bytes
MAX_DEADLETTER_PAYLOAD = 65_536  # characters of a rejected payload kept for inspection
MAX_REASON_CHARS = 2_000  # a dead letter's reason, however many problems it lists
MAX_PROBLEMS_LISTED = 5  # problems named in one dead letter's reason; the rest are counted

_SAMPLE_LIST = TypeAdapter(list[Sample])
_FAST_DECODE = msgspec.json.Decoder(list[SampleRecord] | SampleRecord).decode
_DEVICE_RE = re.compile(DEVICE_PATTERN.removeprefix("^").removesuffix("$"))
_INF = float("inf")


class TopicError(ValueError):
    pass


@dataclass
class Verdict:
    """What one MQTT message becomes: records for Kafka and dead letters."""

    # the usual, all-good message as plain records (`_all_good`); any other as validated models
    batches: list[SampleBatch | SampleBatchRecord] = field(default_factory=list)
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
    """Validate one MQTT message against the contract. Total: nothing a client sends raises.

    The checks below reject every bad input we know of with its own reason; should one slip
    through them and raise, the whole message is dead-lettered with the exception's name, so
    one runner's message can never stop the bridge for everyone (FAULTS.md row 13).
    """
    try:
        return _judge(topic, payload, received_ms, max_future_ms)
    except Exception as error:  # last resort, see the docstring
        return Verdict(
            rejects=[dead_letter(topic, payload, f"unreadable payload ({type(error).__name__})", received_ms)]
        )


def _judge(topic: str, payload: bytes, received_ms: int, max_future_ms: int) -> Verdict:
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
    fast = _all_good(payload, received_ms + max_future_ms)
    if fast is not None:
        for start in range(0, len(fast), MAX_SAMPLES_PER_RECORD):
            chunk = tuple(fast[start : start + MAX_SAMPLES_PER_RECORD])
            verdict.batches.append(SampleBatchRecord(runner=runner, received_ms=received_ms, samples=chunk))
        return
    try:
        document = _load_json(payload)
    except ValueError as error:
        reject(payload, f"not JSON: {error}")
        return
    is_array = isinstance(document, list)
    items = document if is_array else [document]
    if not items:
        reject(payload, "empty array: no samples")
        return
    if len(items) > MAX_SAMPLES_PER_MESSAGE:
        reject(payload, f"{len(items)} samples in one message; at most {MAX_SAMPLES_PER_MESSAGE} (split the upload)")
        return
    good, problems = _validate(items, is_array)
    latest = received_ms + max_future_ms
    if any(sample.ts > latest for sample in good):
        kept = []
        for sample in good:
            if sample.ts > latest:
                problems.append((None, sample.model_dump(), _future_reason(sample.ts, received_ms)))
            else:
                kept.append(sample)
        good = kept
    if problems:
        _reject_items(reject, problems, len(items))
    for start in range(0, len(good), MAX_SAMPLES_PER_RECORD):
        chunk = tuple(good[start : start + MAX_SAMPLES_PER_RECORD])
        verdict.batches.append(SampleBatch(runner=runner, received_ms=received_ms, samples=chunk))


def _all_good(payload: bytes, latest_ms: int) -> list[SampleRecord] | None:
    """The usual message, every sample good, checked in one pass without building a model per sample;
    None at the first doubt, and the message is judged again by the models (`Sample`), which name
    every problem. Takes only what `Sample` takes, as the same values: integer epoch-ms `ts` (an
    RFC 3339 string goes to the models), the same bounds and patterns, objects with no nested
    values (so no nesting the models' parser would refuse hides in an ignored field)."""
    try:
        document = _FAST_DECODE(payload)
    except Exception:  # anything from bad UTF-8 to a wrong type: the models say what
        return None
    items = document if isinstance(document, list) else [document]
    if not 0 < len(items) <= MAX_SAMPLES_PER_MESSAGE:
        return None
    if payload.count(b"{") != len(items) or payload.count(b"[") > 1:
        return None
    devices, run_ids = set(), set()
    for item in items:
        speed, seq = item.speed_mps, item.seq
        if not (
            EARLIEST_MS <= item.ts <= latest_ms
            and item.ts <= LATEST_MS
            and 0 <= item.cadence_spm <= 260
            and 0 <= item.distance_m < _INF
            and (speed is None or 0 <= speed <= 12)
            and (seq is None or 0 <= seq < 2**63)
        ):
            return None
        devices.add(item.device_id)
        if item.run_id is not None:
            run_ids.add(item.run_id)
    if not all(_DEVICE_RE.fullmatch(device) for device in devices):
        return None
    if not all(1 <= len(run_id) <= 128 for run_id in run_ids):
        return None
    return items


def _validate(items: list[Any], is_array: bool) -> tuple[list[Sample], list[tuple[int | None, Any, str]]]:
    """All items in one pass (the usual, all-good case); when some are bad, the good ones are
    kept and the bad ones returned with their problems (only the first few described)."""
    try:
        return _SAMPLE_LIST.validate_python(items), []
    except ValidationError as error:
        by_index: dict[int, list[dict]] = {}
        for problem in error.errors(include_url=False):
            by_index.setdefault(problem["loc"][0], []).append(problem)
    good = [Sample.model_validate(item) for index, item in enumerate(items) if index not in by_index]
    problems = []
    for index in sorted(by_index):
        # naming every problem of a 100,000-item array would cost seconds: the first few
        reason = _describe(by_index[index], skip=1) if len(problems) < MAX_PROBLEMS_LISTED else ""
        problems.append((index if is_array else None, items[index], reason))
    return good, problems


def _reject_items(reject, problems: list[tuple[int | None, Any, str]], total: int) -> None:
    """One dead letter for all the bad samples of one message: their problems (the first few
    named, the rest counted) and the bad items themselves (bounded like any payload)."""
    named = []
    for index, _, reason in problems[:MAX_PROBLEMS_LISTED]:
        named.append(f"sample {index}: {reason}" if index is not None else reason)
    text = "; ".join(named)
    if total > 1:
        text += f" ({len(problems)} of {total} samples rejected"
        more = len(problems) - len(named)
        text += f", {more} more not described)" if more > 0 else ")"
    items = [item for _, item, _ in problems]
    reject(_dump(items if total > 1 else items[0]), text)


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
    """Strict JSON (no NaN/Infinity) by a parser with a nesting limit: deep nesting is a
    ValueError, not a RecursionError."""
    payload.decode("utf-8")  # UnicodeDecodeError is a ValueError; names the bad byte
    try:
        return from_json(payload, allow_inf_nan=False)
    except ValueError:
        from_json(payload, allow_inf_nan=True)  # raises again unless NaN/Infinity was the only fault
        raise ValueError("NaN and Infinity are not numbers JSON allows") from None


def _future_reason(ts: int, received_ms: int) -> str:
    return f"ts {iso(ts)} is {(ts - received_ms) / 60000:.1f} min in the future (limit 5 min)"


def describe(error: ValidationError) -> str:
    """One line per problem: `field: what is wrong`."""
    return _describe(error.errors(include_url=False))


def _describe(problems: list[dict], skip: int = 0) -> str:
    parts = []
    for problem in problems:
        where = ".".join(str(part) for part in problem["loc"][skip:]) or "payload"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def _dump(item: Any) -> bytes:
    try:
        return to_json(item, inf_nan_mode="constants")
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
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + "…"
    if len(text) > MAX_DEADLETTER_PAYLOAD:
        reason = f"{reason} (payload of {len(payload)} bytes, first {MAX_DEADLETTER_PAYLOAD} characters kept)"
        text = text[:MAX_DEADLETTER_PAYLOAD]
    return DeadLetter(topic=topic, reason=reason, received_at=iso(received_ms), payload=text, payload_b64=b64)
