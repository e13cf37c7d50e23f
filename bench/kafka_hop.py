"""One Kafka hop's delay on the local broker (Tansu), by the consumer's fetch wait.

    .venv/bin/python bench/kafka_hop.py [--waits 1500,500,100,20] [--records 40]

Starts Tansu on a free port, then for each wait: a producer sends a record every 137 ms (a trickle,
as live samples are to one partition) and a consumer with that `fetch_max_wait_ms` reads them; the
delay is the record's arrival minus its send time. Faust fixes the wait at 1,500 ms; the workers set
it from `FOOTPOD_KAFKA_FETCH_WAIT_MS` (footpod/kafka.py). Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import servers  # noqa: E402


async def hop(bootstrap: str, wait_ms: int, records: int) -> list[float]:
    topic = f"hop-{wait_ms}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=topic, auto_offset_reset="earliest", fetch_max_wait_ms=wait_ms
    )
    await producer.start()
    await consumer.start()
    delays: list[float] = []

    async def read() -> None:
        async for message in consumer:
            delays.append(time.time() * 1000 - int(message.value))

    reader = asyncio.ensure_future(read())
    try:
        await asyncio.sleep(3)  # the consumer has joined and fetches
        for _ in range(records):
            await producer.send_and_wait(topic, str(int(time.time() * 1000)).encode())
            await asyncio.sleep(0.137)
        await asyncio.sleep(max(2.0, 2 * wait_ms / 1000))
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    return delays[3:]  # the first few arrive while the group settles


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waits", default="1500,500,100,20", help="fetch_max_wait_ms values, comma-separated")
    parser.add_argument("--records", type=int, default=40)
    args = parser.parse_args()
    port = servers.free_port()
    broker = servers.tansu(Path(tempfile.mkdtemp(prefix="footpod-hop-")), port=port).start()
    table = Table(title="one Kafka hop on Tansu, a record every 137 ms")
    for column in ("fetch_max_wait_ms", "records", "delay p50 (ms)", "delay max (ms)"):
        table.add_column(column, justify="right")
    try:
        for wait_ms in (int(w) for w in args.waits.split(",")):
            delays = await hop(f"127.0.0.1:{port}", wait_ms, args.records)
            table.add_row(str(wait_ms), str(len(delays)), f"{statistics.median(delays):.0f}", f"{max(delays):.0f}")
    finally:
        broker.stop()
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
