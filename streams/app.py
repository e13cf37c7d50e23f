"""The stream worker's Faust app: configuration only; agents live in `streams.agents`."""

from __future__ import annotations

import faust

from footpod.settings import Settings


def create_app(settings: Settings, app_id: str = "footpod-stream") -> faust.App:
    return faust.App(
        app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.kafka_partitions,
        consumer_auto_offset_reset="earliest",
        # Short timeouts let a restarted worker rejoin its group in seconds (~3 s on Tansu).
        broker_session_timeout=6.0,
        broker_rebalance_timeout=6.0,
        broker_heartbeat_interval=1.0,
    )
