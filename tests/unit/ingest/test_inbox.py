"""The bridge's hand-off from paho's thread to the event loop: every delivery once, in order; the
loop is woken only when it waits for a first delivery, not once per message."""

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


def delivery(mid: int) -> Delivery:
    return Delivery(mid, 1, "footpod/ana/samples", b"{}", 0)


def test_deliveries_from_another_thread_arrive_once_and_in_order_with_fewer_wakeups_than_messages():
    total, bursts = 20_000, 40

    async def scenario():
        loop = CountingLoop(asyncio.get_running_loop())
        inbox = Inbox(loop)

        def paho_thread():
            for burst in range(bursts):
                for i in range(total // bursts):
                    inbox.put(delivery(burst * (total // bursts) + i))
                threading.Event().wait(0.002)  # the next burst a little later

        sender = threading.Thread(target=paho_thread)
        sender.start()
        received: list[Delivery] = []
        while len(received) < total:
            await asyncio.wait_for(inbox.wait(), timeout=10)
            inbox.take(received, 0, total, 1 << 40)
        sender.join()
        await asyncio.sleep(0.05)
        assert len(inbox) == 0  # nothing twice
        return [d.mid for d in received], loop.wakeups

    received, wakeups = asyncio.run(scenario())
    assert received == list(range(total))
    assert 1 <= wakeups < total // 10  # per message it would be `total`


def test_messages_arriving_while_the_loop_is_busy_wake_it_not_at_all():
    async def scenario():
        loop = CountingLoop(asyncio.get_running_loop())
        inbox = Inbox(loop)
        inbox.put(delivery(0))
        await inbox.wait()  # a delivery is there: returns at once
        sender = threading.Thread(target=lambda: [inbox.put(delivery(mid)) for mid in range(1, 1_000)])
        sender.start()  # meanwhile the loop lingers, not waiting on the inbox
        sender.join()
        taken: list[Delivery] = []
        inbox.take(taken, 0, 10_000, 1 << 40)
        return [d.mid for d in taken], loop.wakeups

    taken, wakeups = asyncio.run(scenario())
    assert taken == list(range(1_000))
    assert wakeups == 0


def test_a_loop_waiting_on_an_empty_inbox_is_woken_by_the_next_delivery():
    async def scenario():
        loop = CountingLoop(asyncio.get_running_loop())
        inbox = Inbox(loop)
        waiting = asyncio.ensure_future(inbox.wait())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        threading.Thread(target=inbox.put, args=(delivery(5),)).start()
        await asyncio.wait_for(waiting, timeout=5)
        return loop.wakeups, len(inbox)

    assert asyncio.run(scenario()) == (1, 1)


def test_take_stops_at_the_count_or_the_bytes_and_leaves_the_rest_in_order():
    async def scenario():
        inbox = Inbox(asyncio.get_running_loop())
        for mid in range(10):
            inbox.put(Delivery(mid, 1, "footpod/ana/samples", b"x" * 100, 0))
        first: list[Delivery] = []
        size = inbox.take(first, 0, 4, 1 << 20)
        second: list[Delivery] = []
        inbox.take(second, 0, 100, 250)  # the third 100 bytes pass 250: it stops after them
        return [d.mid for d in first], size, [d.mid for d in second], len(inbox)

    assert asyncio.run(scenario()) == ([0, 1, 2, 3], 400, [4, 5, 6], 3)
