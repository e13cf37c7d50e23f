"""A stage's live-delay histogram (`footpod_live_delay_seconds`) over the live load, read as Prometheus
reads it: plain arithmetic on bucket counts, no dependency (the unit tests import it without the bench's)."""

from __future__ import annotations


def stage_delays(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]) -> dict[str, dict]:
    """Each stage's live delay over the live load (histogram `after` minus `before`): observations, and
    p50 and p99 interpolated within their buckets as Prometheus' `histogram_quantile` does."""
    result = {}
    for stage, buckets in after.items():
        bounds = sorted(buckets)
        counts = [buckets[b] - before.get(stage, {}).get(b, 0.0) for b in bounds]
        total = counts[-1] if counts else 0.0
        result[stage] = {
            "n": int(total),
            "p50": _bucket_quantile(bounds, counts, 0.5),
            "p99": _bucket_quantile(bounds, counts, 0.99),
        }
    return result


def _bucket_quantile(bounds: list[float], cumulative: list[float], q: float) -> float | None:
    if not cumulative or cumulative[-1] == 0:
        return None
    rank = q * cumulative[-1]
    for i, (bound, count) in enumerate(zip(bounds, cumulative, strict=True)):
        if count >= rank:
            if bound == float("inf"):
                return bounds[i - 1] if i else None  # beyond the last finite bucket: its bound, at least
            lower, below = (bounds[i - 1], cumulative[i - 1]) if i else (0.0, 0.0)
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
    return None
