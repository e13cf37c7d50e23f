"""Kafka topic names and their creation; shared by every stage."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

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
