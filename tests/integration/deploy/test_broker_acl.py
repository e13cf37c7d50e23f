"""FAULTS row 14 against the real broker: deploy/mosquitto/{mosquitto.conf,acl} on
a local Mosquitto, with runners alice and bob and the bridge and alerts users."""

import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy" / "mosquitto"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "bridge": "bridge-pw", "alerts": "alerts-pw"}
QUIET = 0.5  # how long "nothing arrives" is watched after a later message did arrive


def find(binary, *extra_dirs):
    found = shutil.which(binary) or next(
        (str(Path(d) / binary) for d in extra_dirs if (Path(d) / binary).exists()), None
    )
    if not found:
        pytest.fail(f"{binary} not found: this test needs the real broker, `apt-get install mosquitto`")
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_conf(tmp, port):
    """The deployed conf with paths and port moved into tmp; every rewritten key must exist."""
    rewrite = {
        "listener": f"{port} 127.0.0.1",
        "password_file": str(tmp / "passwd"),
        "acl_file": str(tmp / "acl"),
        "persistence_location": f"{tmp / 'data'}/",
        "log_dest": f"file {tmp / 'mosquitto.log'}",
    }
    seen, lines = set(), []
    for line in (DEPLOY / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in rewrite:
            seen.add(key)
            line = f"{key} {rewrite[key]}"
        lines.append(line)
    assert seen == set(rewrite), f"mosquitto.conf lacks {set(rewrite) - seen}"
    # Mosquitto drops root privileges to `mosquitto` by default; stay as the test user.
    lines.append(f"user {pwd.getpwuid(os.getuid()).pw_name}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    mosquitto = find("mosquitto", "/usr/sbin")
    mosquitto_passwd = find("mosquitto_passwd", "/usr/bin")
    tmp = tmp_path_factory.mktemp("mosquitto")
    (tmp / "data").mkdir()
    shutil.copy(DEPLOY / "acl", tmp / "acl")
    for i, (user, password) in enumerate(USERS.items()):
        flags = ["-b", "-c"] if i == 0 else ["-b"]
        subprocess.run([mosquitto_passwd, *flags, str(tmp / "passwd"), user, password], check=True)

    for _ in range(5):  # the port may be taken between picking and binding
        port = free_port()
        (tmp / "mosquitto.conf").write_text(local_conf(tmp, port))
        proc = subprocess.Popen(
            [mosquitto, "-c", str(tmp / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        pytest.fail(f"mosquitto did not start: {proc.stderr.read().decode(errors='replace')}")
    yield "127.0.0.1", port
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Client:
    """A paho client on its own thread that records what it is told."""

    def __init__(self, broker, user=None, protocol=mqtt.MQTTv5, password=None):
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"t-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
            reconnect_on_failure=False,
        )
        self.user = user
        if user:
            self.c.username_pw_set(user, password or USERS[user])
        self.connack = None
        self.connected = threading.Event()
        self.messages = []  # (topic, publishing user)
        self.got = threading.Condition()
        self.suback = {}
        self.puback = {}
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda c, u, mid, codes, p: self.suback.__setitem__(mid, codes)
        self.c.on_publish = lambda c, u, mid, code, p: self.puback.__setitem__(mid, code)
        self.c.connect(*broker, keepalive=10)
        self.c.loop_start()
        assert self.connected.wait(5), "no CONNACK"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = reason_code
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self.got:
            self.messages.append((msg.topic, json.loads(msg.payload)["from"]))
            self.got.notify_all()

    def subscribe(self, *topics):
        for topic in topics:
            _, mid = self.c.subscribe(topic, qos=1)
            deadline = time.monotonic() + 5
            while mid not in self.suback and time.monotonic() < deadline:
                time.sleep(0.01)
            assert mid in self.suback, f"no SUBACK for {topic}"

    def publish(self, topic, retain=False):
        """The PUBACK reason code, or None if the broker dropped the connection instead."""
        info = self.c.publish(topic, json.dumps({"from": self.user}), qos=1, retain=retain)
        deadline = time.monotonic() + 5
        while info.mid not in self.puback and self.c.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.puback.get(info.mid)

    def wait_for(self, topic, timeout=5):
        with self.got:
            assert self.got.wait_for(lambda: topic in self.topics(), timeout), (
                f"{topic} never arrived; got {self.messages}"
            )
        time.sleep(QUIET)  # anything that should not arrive has had time to
        return self.topics()

    def topics(self):
        return {topic for topic, _ in self.messages}

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def clients(broker):
    made = []

    def make(user=None, protocol=mqtt.MQTTv5, password=None):
        client = Client(broker, user, protocol, password)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["v311", "v5"])
def test_anonymous_connect_is_refused(clients, protocol):
    client = clients(None, protocol)
    assert client.connack.is_failure, client.connack
    assert not client.c.is_connected()


def test_wrong_password_is_refused(clients):
    client = clients("alice", password=USERS["bob"])
    assert client.connack.is_failure, client.connack


def test_runner_samples_and_pain_reach_the_bridge(clients):
    bridge = clients("bridge")
    bridge.subscribe("footpod/+/samples", "footpod/+/pain")
    assert all(not code.is_failure for codes in bridge.suback.values() for code in codes)
    alice = clients("alice")
    assert not alice.publish("footpod/alice/pain").is_failure
    assert not alice.publish("footpod/alice/samples").is_failure
    assert {"footpod/alice/pain", "footpod/alice/samples"} <= bridge.wait_for("footpod/alice/samples")


def test_runner_cannot_publish_as_another_runner_or_service(clients):
    bridge = clients("bridge")
    bridge.subscribe("footpod/+/samples", "footpod/+/pain")
    bob = clients("bob")
    bob.subscribe("status/bob")
    forged = ["footpod/bob/samples", "footpod/bob/pain", "status/bob", "alerts/harriers/bob"]
    for topic in forged:
        # A fresh connection each: Mosquitto 2.0.16-2.0.21 (and Debian's patched 2.0.11)
        # disconnect the publisher instead of answering "Not authorized" when
        # max_queued_messages is 0; 2.0.22+ sends the MQTT v5 reason code. Both deny.
        alice = clients("alice")
        code = alice.publish(topic)
        assert (code is None and not alice.c.is_connected()) or code.getName() == "Not authorized", (topic, code)
    # Sent last: once it is in, the forged ones had their chance.
    clients("alice").publish("footpod/alice/samples")
    got = bridge.wait_for("footpod/alice/samples")
    assert not got & set(forged), got
    assert "alice" not in {sender for _, sender in bob.messages}, bob.messages


def test_runner_reads_only_its_own_status(clients):
    alerts = clients("alerts")
    # Retained, as the service publishes it: a later subscriber must not get bob's either.
    assert not alerts.publish("status/bob", retain=True).is_failure
    bob = clients("bob")
    alice = clients("alice")
    alice.subscribe("#", "status/bob", "status/+", "footpod/bob/samples")
    alice.subscribe("status/alice")
    bob.publish("footpod/bob/samples")
    alerts.publish("status/bob", retain=True)
    alerts.publish("alerts/harriers/bob")
    alerts.publish("status/alice", retain=True)
    got = alice.wait_for("status/alice")
    assert got == {"status/alice"}, got


def test_runner_reads_its_own_alerts_and_none_of_another_runners(clients):
    alerts = clients("alerts")
    alice = clients("alice")
    # alerts/+/alice is granted; the wider filters are accepted but deliver only what she may read
    alice.subscribe("alerts/+/alice", "alerts/#", "alerts/harriers/+", "#")
    alerts.publish("alerts/harriers/bob")
    alerts.publish("alerts/striders/bob")
    alerts.publish("alerts/harriers/alice")
    alerts.publish("alerts/unassigned/alice")  # a team change: still hers
    got = {topic for topic in alice.wait_for("alerts/unassigned/alice") if topic.startswith("alerts/")}
    assert got == {"alerts/harriers/alice", "alerts/unassigned/alice"}, got  # (`#` also brings her status)


def test_runner_cannot_read_alerts_through_another_runners_name(clients):
    alerts = clients("alerts")
    bob = clients("bob")
    bob.subscribe("alerts/+/alice", "alerts/+/bob")
    alerts.publish("alerts/harriers/alice")
    alerts.publish("alerts/harriers/bob")
    got = bob.wait_for("alerts/harriers/bob")
    assert got == {"alerts/harriers/bob"}, got
