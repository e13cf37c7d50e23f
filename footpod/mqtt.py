"""The MQTT client every stage and command uses, configured from FOOTPOD_MQTT_URL."""

from __future__ import annotations

import hashlib
import os
import secrets
from typing import Any

import paho.mqtt.client as mqtt

from footpod.settings import Settings


def mqtt_client(
    settings: Settings, client_id: str, client_class: type[mqtt.Client] = mqtt.Client, **kwargs: Any
) -> mqtt.Client:
    """A paho 2.x client (callback API v2, of `client_class`) configured from FOOTPOD_MQTT_URL."""
    endpoint = settings.mqtt
    client = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, **kwargs)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        ca = settings.mqtt_ca_file
        client.tls_set(ca_certs=str(ca) if ca else None)  # FOOTPOD_MQTT_CA_FILE for a private CA
    client.reconnect_delay_set(min_delay=1, max_delay=5)
    return client


def service_client_id(settings: Settings, service: str) -> str:
    """The MQTT client id of a service that keeps a persistent session (the bridge).

    Mosquitto hands a session, with its queue, to whoever presents its client id (FAULTS.md
    row 15). With a broker login the deployed broker binds client ids to user names
    (`use_username_as_clientid`), so the id is the user name. Without one (the local stack) it
    is derived from a secret kept in the data directory, so no other client can guess it, and
    it stays the same across restarts so the session and its queue are found again.
    """
    if settings.mqtt.username:
        return settings.mqtt.username
    path = settings.data_dir / "secrets" / "mqtt-client-id"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32))
    secret = path.read_text().strip()
    return f"footpod-{service}-" + hashlib.sha256(f"{secret}:{service}".encode()).hexdigest()[:32]
