"""The local servers keep what they are given: Mosquitto across a restart, InfluxDB for years."""

import threading

import httpx

from monitor import servers
from tests.integration.stack import mqtt_connect


def test_mosquitto_keeps_retained_messages_across_a_restart(tmp_path):
    port = servers.free_port()
    broker = servers.mosquitto(tmp_path, port=port).start()
    try:
        client = mqtt_connect(port)
        client.publish("status/alice", b'{"week_km": 12.5}', qos=1, retain=True).wait_for_publish(5)
        client.loop_stop()
        client.disconnect()
    finally:
        broker.stop()
    broker = servers.mosquitto(tmp_path, port=port).start()
    try:
        received = []
        arrived = threading.Event()
        client = mqtt_connect(port)
        client.on_message = lambda c, u, message: (received.append(message.payload), arrived.set())
        client.subscribe("status/alice", qos=1)
        assert arrived.wait(5), "the retained status was lost in the restart"
        assert received == [b'{"week_km": 12.5}']
        client.loop_stop()
        client.disconnect()
    finally:
        broker.stop()


def test_the_footpod_database_keeps_data_forever(pipeline):
    response = httpx.get(f"{pipeline.influx_url}/query", params={"q": "SHOW RETENTION POLICIES ON footpod"})
    policies = response.json()["results"][0]["series"][0]["values"]
    default = [policy for policy in policies if policy[-1] is True]
    assert default and default[0][1] == "0s", policies  # duration 0s: no expiry


def test_a_taken_port_is_one_clear_error(tmp_path):
    import pytest

    from footpod.errors import ServerStartError

    port = servers.free_port()
    broker = servers.mosquitto(tmp_path / "a", port=port).start()
    try:
        with pytest.raises(ServerStartError, match=f"port {port} .* taken"):
            servers.mosquitto(tmp_path / "b", port=port).start()
    finally:
        broker.stop()
