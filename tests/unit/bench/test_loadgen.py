"""The live bench's MQTT packets, byte for byte as paho encodes them, and the PUBACK reader.

paho builds its packets inside the client (`_send_connect`, `_send_publish`, `_pack_remaining_length`);
a client that is never connected is asked for them here, its write hook set so nothing is sent."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from hypothesis import given
from hypothesis import strategies as st

from bench.loadgen import (
    CONNACK,
    PUBACK,
    connect_packet,
    publish_packet,
    read_packets,
    remaining_length,
    topic_prefix,
)


def paho_packets() -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-load-7")
    client.on_socket_register_write = lambda *args: None  # queue the packets, never write them
    client._sock = object()  # "connected": paho builds the packet only then
    return client


def test_connect_is_pahos_clean_session_connect():
    client = paho_packets()
    client._keepalive = 60
    client._send_connect(60)
    assert connect_packet("bench-load-7", 60) == bytes(client._out_packet[-1]["packet"])


@given(
    topic=st.text(st.characters(codec="utf-8", exclude_characters="+#\x00"), min_size=1, max_size=80),
    payload=st.binary(min_size=1, max_size=20_000),
    packet_id=st.integers(1, 65_535),
)
def test_publish_is_pahos_qos1_publish(topic, payload, packet_id):
    client = paho_packets()
    client._send_publish(packet_id, topic.encode(), payload, qos=1)
    assert publish_packet(topic_prefix(topic), payload, packet_id) == bytes(client._out_packet[-1]["packet"])


@given(st.integers(0, 268_435_455))
def test_remaining_length_is_pahos(n):
    packed = bytearray()
    paho_packets()._pack_remaining_length(packed, n)
    assert remaining_length(n) == bytes(packed)


def test_remaining_length_matches_the_specs_table():
    # MQTT 3.1.1 §2.2.3: the first and last value of each byte count
    assert remaining_length(0) == b"\x00"
    assert remaining_length(127) == b"\x7f"
    assert remaining_length(128) == b"\x80\x01"
    assert remaining_length(16_383) == b"\xff\x7f"
    assert remaining_length(16_384) == b"\x80\x80\x01"
    assert remaining_length(2_097_151) == b"\xff\xff\x7f"
    assert remaining_length(2_097_152) == b"\x80\x80\x80\x01"
    assert remaining_length(268_435_455) == b"\xff\xff\xff\x7f"


@given(
    ids=st.lists(st.integers(1, 65_535), max_size=50),
    cuts=st.lists(st.integers(0, 400), max_size=10),
)
def test_pubacks_are_read_whole_however_the_bytes_arrive(ids, cuts):
    stream = bytes([CONNACK, 2, 0, 0]) + b"".join(bytes([PUBACK, 2]) + i.to_bytes(2, "big") for i in ids)
    buffer, packets = bytearray(), []
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    for a, b in zip(bounds, bounds[1:]):
        buffer += stream[a:b]
        packets += read_packets(buffer)
    assert packets == [(CONNACK, b"\x00\x00")] + [(PUBACK, i.to_bytes(2, "big")) for i in ids]
    assert buffer == bytearray()


def test_a_partial_packet_stays_in_the_buffer():
    buffer = bytearray(bytes([PUBACK, 2, 0, 1, PUBACK, 2, 0]))
    assert read_packets(buffer) == [(PUBACK, b"\x00\x01")]
    assert buffer == bytearray(bytes([PUBACK, 2, 0]))
