"""The MQTT client every stage and command uses, configured from FOOTPOD_MQTT_URL."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt

from footpod.settings import Settings


def mqtt_client(settings: Settings, client_id: str, **kwargs: Any) -> mqtt.Client:
    """A paho 2.x client (callback API v2) configured from FOOTPOD_MQTT_URL."""
    endpoint = settings.mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, **kwargs)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        ca = settings.mqtt_ca_file
        client.tls_set(ca_certs=str(ca) if ca else None)  # FOOTPOD_MQTT_CA_FILE for a private CA
    client.reconnect_delay_set(min_delay=1, max_delay=5)
    return client
