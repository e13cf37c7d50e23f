"""Kafka for every stage: topic names, their creation, and the Faust app the workers are built on."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from footpod.settings import Settings

if TYPE_CHECKING:
    import faust

SAMPLES = "footpod.samples"
PAIN = "footpod.pain"
DEADLETTER = "footpod.deadletter"  # CONTRACT.md, "Bad input"
UPDATES = "footpod.updates"  # stream -> alert worker: runs and load
ALL_TOPICS = (SAMPLES, PAIN, DEADLETTER, UPDATES)

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap: str, partitions: int, timeout_s: float = 60.0) -> None:
    """Create the pipeline's topics if missing, waiting for the broker to answer."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [NewTopic(name, partitions, 1) for name in ALL_TOPICS if name not in existing]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    pass
            return
        except (KafkaError, OSError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("Kafka at %s not ready (%s); retrying", bootstrap, error)
            await asyncio.sleep(1.0)
        finally:
            await admin.close()


def create_app(settings: Settings, app_id: str) -> faust.App:
    """A Faust app on the configured brokers: raw bytes in and out, no web server, memory tables."""
    import faust  # the bridge uses this module for topic names only

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
