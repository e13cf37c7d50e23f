"""The bridge's hand-off from paho's thread to the event loop: every delivery once, in order, with
one wake-up of the loop per burst rather than per message."""

from __future__ import annotations

import asyncio
import threading

from ingest.bridge import Delivery, Inbox


class CountingLoop:
    """The running loop, counting the wake-ups asked of it from other threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop, self.wakeups = loop, 0

    def call_soon_threadsafe(self, callback, *args):
        self.wakeups += 1
        return self.loop.call_soon_threadsafe(callback, *args)


def test_deliveries_from_another_thread_arrive_once_and_in_order_with_fewer_wakeups_than_messages():
    total, bursts = 20_000, 40

    async def scenario():
        loop = CountingLoop(asyncio.get_running_loop())
        inbox = Inbox(loop)

        def paho_thread():
            for burst in range(bursts):
                for i in range(total // bursts):
                    mid = burst * (total // bursts) + i
                    inbox.put(Delivery(mid, 1, "footpod/ana/samples", b"{}", 0))
                threading.Event().wait(0.002)  # the next burst a little later

        sender = threading.Thread(target=paho_thread)
        sender.start()
        received = []
        while len(received) < total:
            received.append((await asyncio.wait_for(inbox.queue.get(), timeout=10)).mid)
        sender.join()
        await asyncio.sleep(0.05)
        assert inbox.queue.empty()  # nothing twice
        return received, loop.wakeups

    received, wakeups = asyncio.run(scenario())
    assert received == list(range(total))
    assert 1 <= wakeups < total // 10  # per message it would be `total`
