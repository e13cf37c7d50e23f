"""The production compose file and its broker/database config, read as files."""

import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKERS = ("bridge", "stream", "alerts")


def load(path):
    return yaml.safe_load((ROOT / path).read_text())


@pytest.fixture(scope="module")
def compose():
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def directives(path):
    """Mosquitto-style `key value` lines, comments dropped (last one wins)."""
    out = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out[key] = value.strip()
    return out


def mounts(service):
    """{container path: (host source, mode)} of a service's volumes."""
    out = {}
    for spec in service.get("volumes", []):
        src, dst, *mode = spec.split(":")
        out[dst] = (src, mode[0] if mode else "rw")
    return out


def test_pipeline_services_exist(services):
    for name in ("mosquitto", "kafka", "influxdb", "grafana", *WORKERS):
        assert name in services, name
        assert services[name].get("restart") == "unless-stopped", name


@pytest.mark.parametrize("name", WORKERS)
def test_workers_run_repo_image_with_their_subcommand(services, name):
    svc = services[name]
    build = svc["build"]
    context = build if isinstance(build, str) else build["context"]
    assert context == "."
    assert svc["command"] in (name, [name])
    env = svc["environment"]
    assert env["FOOTPOD_KAFKA_URL"] == "kafka://kafka:9092"
    assert env["FOOTPOD_INFLUX_URL"] == "http://influxdb:8086"
    assert env["FOOTPOD_INFLUX_BUCKET"] == "footpod"
    assert mounts(svc)[env["FOOTPOD_ROSTER"]][0] == "./deploy/roster.yaml"


def test_dockerfile_entrypoint_is_the_cli():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"pip install \.", text)
    assert re.search(r'^ENTRYPOINT \["footpod-monitor"\]', text, re.M)


@pytest.mark.parametrize("name", ["bridge", "alerts"])
def test_mqtt_clients_log_in_as_their_own_user(services, name):
    url = services[name]["environment"]["FOOTPOD_MQTT_URL"]
    var = f"FOOTPOD_{name.upper()}_MQTT_PASSWORD"
    assert re.fullmatch(rf"mqtt://{name}:\$\{{{var}(:\?[^}}]*)?\}}@mosquitto:1883", url), url


def test_stream_has_no_mqtt_login(services):
    assert "FOOTPOD_MQTT_URL" not in services["stream"]["environment"]


def test_waited_on_services_have_healthchecks(services):
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits on {dep}"


def test_mosquitto_mounts_conf_passwd_acl_and_data(services):
    m = mounts(services["mosquitto"])
    conf = directives("deploy/mosquitto/mosquitto.conf")
    assert m["/mosquitto/config/mosquitto.conf"][0] == "./deploy/mosquitto/mosquitto.conf"
    assert m[conf["password_file"]][0] == "./deploy/mosquitto/passwd"
    assert m[conf["acl_file"]][0] == "./deploy/mosquitto/acl"
    # The store must live on a volume, not in the container layer.
    data = conf["persistence_location"].rstrip("/")
    assert m[data][0] in load("docker-compose.yml")["volumes"]
    assert "1883:1883" in services["mosquitto"]["ports"]


def test_mosquitto_conf_is_closed_and_lossless():
    conf = directives("deploy/mosquitto/mosquitto.conf")
    assert conf["listener"].split()[0] == "1883"
    assert conf["allow_anonymous"] == "false"
    assert conf["persistence"] == "true"
    assert conf["max_queued_messages"] == "0"
    assert int(conf["autosave_interval"]) <= 60
    assert int(conf["max_inflight_messages"]) >= 100
    assert conf["persistent_client_expiration"] == "14d"
    assert conf["use_username_as_clientid"] == "true"  # no runner can take a service's session


def test_passwd_example_holds_no_credentials():
    lines = (ROOT / "deploy/mosquitto/passwd.example").read_text().splitlines()
    assert all(not line.strip() or line.lstrip().startswith("#") for line in lines)
    assert "mosquitto_passwd" in "\n".join(lines)


def acl_rules():
    """[(user or None for patterns, kind, access, topic)], in file order."""
    rules, user = [], "<anonymous>"
    for line in (ROOT / "deploy/mosquitto/acl").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
        elif words[0] in ("topic", "pattern"):
            access, topic = (words[1], words[2]) if len(words) == 3 else ("readwrite", words[1])
            rules.append((None if words[0] == "pattern" else user, words[0], access, topic))
    return rules


def test_acl_patterns_confine_runners_to_their_own_topics():
    patterns = [r for r in acl_rules() if r[1] == "pattern"]
    granted = {(access, topic) for _, _, access, topic in patterns}
    assert granted == {
        ("write", "footpod/%u/samples"),
        ("write", "footpod/%u/pain"),
        ("read", "status/%u"),
        ("read", "alerts/+/%u"),  # the runner's own alerts, whatever the team
    }
    for _, _, access, topic in patterns:
        levels = topic.split("/")
        assert "%u" in levels and "#" not in levels
        assert "+" not in levels or (access, levels[0], levels[-1]) == ("read", "alerts", "%u")


def test_acl_service_users_and_no_anonymous_rules():
    by_user = {}
    for user, kind, access, topic in acl_rules():
        if kind == "topic":
            by_user.setdefault(user, set()).add((access, topic))
    assert "<anonymous>" not in by_user
    assert by_user["bridge"] == {("read", "footpod/+/samples"), ("read", "footpod/+/pain")}
    assert by_user["alerts"] == {("write", "alerts/#"), ("write", "status/#")}
    assert by_user["gateway"] == {("write", "footpod/+/samples")}
    assert by_user["importer"] == {("write", "footpod/+/samples"), ("write", "footpod/+/pain")}


def test_influx_bucket_is_kept_forever_and_mapped_for_influxql(services):
    svc = services["influxdb"]
    env = svc["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == "footpod"
    # Unset also means infinite; if set, it must parse to zero.
    assert re.fullmatch(r"0+[a-z]*", str(env.get("DOCKER_INFLUXDB_INIT_RETENTION", "0")))
    assert "FOOTPOD_INFLUX_TOKEN" in env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    src, _ = mounts(svc)["/docker-entrypoint-initdb.d/init-dbrp.sh"]
    script = ROOT / src
    # The image runs init scripts with run-parts, which skips non-executable files.
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "influx v1 dbrp create" in text
    for flag in ("--db", "--rp autogen", "--bucket-id", "--default"):
        assert flag in text


def test_grafana_gets_provisioning_and_influx_settings(services):
    svc = services["grafana"]
    m = mounts(svc)
    assert m["/etc/grafana/provisioning"][0] == "./dashboards/provisioning"
    assert m["/etc/grafana/footpod-dashboards"][0] == "./dashboards/json"
    env = svc["environment"]
    assert env["FOOTPOD_INFLUX_URL"] == "http://influxdb:8086"
    assert {"FOOTPOD_INFLUX_BUCKET", "FOOTPOD_INFLUX_TOKEN"} <= set(env)


def test_env_example_lists_every_interpolated_variable():
    used = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    listed = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^\w+=", line)
    }
    assert used and used <= listed, used - listed


def test_roster_example_gives_every_runner_a_team():
    runners = load("deploy/roster.example.yaml")["runners"]
    assert runners
    for name, settings in runners.items():
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name)
        assert settings["team"]
