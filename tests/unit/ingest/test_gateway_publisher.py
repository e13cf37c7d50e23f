"""The outbox publisher: QoS 1 in event order, a row deleted only once the broker acknowledged it."""

from ingest.gateway.gateway import Publisher
from ingest.gateway.queue import Outbox
from tests.unit.ingest.gateway_fakes import FakeMqtt


def fill(outbox: Outbox, ticks: int, start: int = 0, devices=(("alice", "a"), ("bob", "b"))) -> None:
    for seq in range(start, start + ticks):
        outbox.put([(runner, {"device_id": device, "seq": seq}) for runner, device in devices], {})


def test_nothing_is_published_while_the_broker_is_out_of_reach(tmp_path):
    outbox, client = Outbox(tmp_path / "o.db"), FakeMqtt()
    publisher = Publisher(outbox, client)
    fill(outbox, 3)

    assert publisher.pump() == 0 and client.published == []
    client.connect()
    assert publisher.pump() == 2
    assert [(topic, [s["seq"] for s in samples]) for _, topic, samples in client.published] == [
        ("footpod/alice/samples", [0, 1, 2]),
        ("footpod/bob/samples", [0, 1, 2]),
    ]


def test_a_row_leaves_the_outbox_only_when_its_message_is_acknowledged(tmp_path):
    outbox, client = Outbox(tmp_path / "o.db"), FakeMqtt()
    publisher = Publisher(outbox, client)
    client.connect()
    fill(outbox, 2)
    publisher.pump()

    publisher.pump()
    assert outbox.pending == 4 and len(client.published) == 2  # published once, not again
    client.ack(1)
    publisher.pump()
    assert outbox.pending == 2 and outbox.pending_of("a") == 0 and outbox.pending_of("b") == 2


def test_no_more_than_the_window_is_in_flight_and_batches_are_capped(tmp_path):
    outbox, client = Outbox(tmp_path / "o.db"), FakeMqtt()
    publisher = Publisher(outbox, client, window=2, batch_max=3)
    client.connect()
    fill(outbox, 7, devices=(("alice", "a"),))

    assert publisher.pump() == 2 and publisher.pump() == 0
    client.ack()
    assert publisher.pump() == 1
    client.ack()
    publisher.pump()
    assert [len(samples) for _, _, samples in client.published] == [3, 3, 1]
    assert client.seqs("a") == list(range(7)) and outbox.pending == 0


def test_after_a_reconnect_new_rows_wait_until_those_in_flight_are_acknowledged(tmp_path):
    outbox, client = Outbox(tmp_path / "o.db"), FakeMqtt()
    publisher = Publisher(outbox, client)
    client.connect()
    fill(outbox, 2, devices=(("alice", "a"),))
    publisher.pump()
    client.drop()
    fill(outbox, 2, start=2, devices=(("alice", "a"),))
    client.connect()  # paho sends the unacknowledged message again by itself

    assert publisher.pump() == 0
    client.ack()
    assert publisher.pump() == 1
    assert client.seqs("a") == [0, 1, 2, 3]


def test_a_restarted_publisher_sends_again_what_was_never_acknowledged_then_the_rest(tmp_path):
    outbox, client = Outbox(tmp_path / "o.db"), FakeMqtt()
    publisher = Publisher(outbox, client, batch_max=2)
    client.connect()
    fill(outbox, 4, devices=(("alice", "a"),))
    publisher.pump()
    client.ack(1)  # seq 0, 1 acknowledged; 2, 3 in flight when the process dies
    publisher.settle()
    outbox.close()

    outbox = Outbox(tmp_path / "o.db")
    fill(outbox, 1, start=4, devices=(("alice", "a"),))
    again = FakeMqtt(auto_ack=True)
    restarted = Publisher(outbox, again)
    again.connect()
    restarted.pump()
    restarted.settle()
    assert again.seqs("a") == [2, 3, 4] and outbox.pending == 0
