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
        # the source may be a ${VAR:?message} interpolation, colon included
        src, dst, mode = re.fullmatch(r"(\$\{[^}]*\}|[^:]+):([^:]+)(?::(\w+))?", spec).groups()
        out[dst] = (src, mode or "rw")
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
    # the roster's folder is mounted, so a file replaced by an editor's rename shows inside
    roster = Path(env["FOOTPOD_ROSTER"])
    assert mounts(svc)[str(roster.parent)] == ("./deploy/roster", "ro")


def test_dockerfile_entrypoint_is_the_cli():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim", text, re.M)
    assert re.search(r"pip install \.", text)
    assert re.search(r'^ENTRYPOINT \["footpod-monitor"\]', text, re.M)


@pytest.mark.parametrize("name", ["bridge", "alerts"])
def test_mqtt_clients_log_in_as_their_own_user_with_a_password_from_a_file(services, compose, name):
    env = services[name]["environment"]
    assert env["FOOTPOD_MQTT_URL"] == f"mqtt://{name}@mosquitto:1883"
    secret = f"{name}_mqtt_password"
    assert env["FOOTPOD_MQTT_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    assert secret in services[name]["secrets"]
    assert compose["secrets"][secret]["file"] == f"./deploy/secrets/{secret}"


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
    ports = services["mosquitto"]["ports"]
    assert "8883:8883" in ports  # TLS to the world
    assert "127.0.0.1:1883:1883" in ports and "1883:1883" not in ports  # plain MQTT on the machine only


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
    assert env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE"] == "/run/secrets/influx_admin_token"
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
    assert "FOOTPOD_INFLUX_BUCKET" in env
    # the datasource's FOOTPOD_INFLUX_TOKEN is set from Grafana's read-only token file at start
    token_dir = next(dst for dst, (src, _) in m.items() if src == "influx-token-read")
    assert f"$$(cat {token_dir}/token)" in " ".join(svc["entrypoint"])
    assert "FOOTPOD_INFLUX_TOKEN" in (ROOT / "dashboards/provisioning/datasources/influxdb.yml").read_text()


def test_env_example_lists_every_interpolated_variable():
    used = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    listed = {
        line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if re.match(r"^\w+=", line)
    }
    assert used and used <= listed, used - listed


def test_roster_example_gives_every_runner_a_team():
    runners = load("deploy/roster.example.yaml")["runners"]
    assert runners
    for name, settings in runners.items():
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name)
        assert settings["team"]


# --- hardening (README, "Hardening") ------------------------------------------------------------

SECRET_WORDS = re.compile(r"PASSWORD|TOKEN|SECRET", re.I)


def test_every_service_has_a_healthcheck(services):
    for name, svc in services.items():
        check = svc.get("healthcheck")
        assert check and check.get("test"), name
        assert not check.get("disable"), name


@pytest.mark.parametrize("name, port", [("bridge", 9401), ("stream", 9402), ("alerts", 9403)])
def test_worker_healthchecks_ask_healthz_on_the_stage_default_port(services, name, port):
    from footpod.metrics import DEFAULT_PORTS

    svc = services[name]
    assert DEFAULT_PORTS[name] == port
    assert "FOOTPOD_METRICS_PORT" not in svc["environment"]  # the default, as the check assumes
    assert svc["environment"]["FOOTPOD_METRICS_HOST"] == "0.0.0.0"  # Prometheus scrapes over the network
    test = " ".join(svc["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in test
    assert "ports" not in svc  # /metrics and /healthz are not published


def test_every_image_is_pinned_to_a_version(services):
    for name, svc in services.items():
        image = svc.get("image")
        if image is None:
            assert "build" in svc, name
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", image
        assert re.fullmatch(r"\d+\.\d+(\.\d+)?(-[\w.]+)?", tag), f"{image}: a version, not a bare major tag"
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim", base), base


def test_every_service_rotates_its_log(services):
    for name, svc in services.items():
        logging = svc.get("logging")
        assert logging and logging["driver"] == "json-file", name
        assert re.fullmatch(r"\d+[km]", logging["options"]["max-size"]), name
        assert int(logging["options"]["max-file"]) >= 2, name


def test_secrets_come_from_files_not_the_environment(compose, services):
    declared = compose["secrets"]
    for name, secret in declared.items():
        assert secret["file"].startswith("./deploy/secrets/"), name
    for name, svc in services.items():
        for secret in svc.get("secrets", []):
            assert secret in declared, (name, secret)
        for key, value in (svc.get("environment") or {}).items():
            interpolated = set(re.findall(r"\$\{(\w+)", str(value)))
            assert not {v for v in interpolated if SECRET_WORDS.search(v)}, (name, key)
            if SECRET_WORDS.search(key) and not key.endswith("_FILE") and key != "FOOTPOD_MQTT_URL":
                pytest.fail(f"{name}: {key} holds a secret in the environment; use {key}_FILE")
    assert services["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_PASSWORD_FILE"].startswith("/run/secrets/")
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"].startswith("/run/secrets/")
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/secrets/" in ignored and "deploy/tls/" in ignored


def test_each_service_gets_only_the_influx_token_it_needs(services):
    """The workers a read-write token, Grafana a read-only one, the bridge none; both made at
    InfluxDB's first start by init-tokens.sh into volumes only their users mount."""
    influx = mounts(services["influxdb"])
    script = (ROOT / influx["/docker-entrypoint-initdb.d/init-tokens.sh"][0]).read_text()
    assert os.access(ROOT / influx["/docker-entrypoint-initdb.d/init-tokens.sh"][0], os.X_OK)
    made = {src: dst for dst, (src, _) in influx.items() if src.startswith("influx-token-")}
    assert set(made) == {"influx-token-write", "influx-token-read"}
    # each `create DIR "description" \ <flags>` call: the permissions each token gets
    calls = dict(re.findall(r'^create (\S+) "[^"]*" \\\n\s+(.+)$', script, re.M))
    assert set(calls["/run/footpod-tokens/write"].split()[::2]) == {"--read-bucket", "--write-bucket"}
    assert calls["/run/footpod-tokens/read"].split()[::2] == ["--read-bucket"]
    assert set(made.values()) == set(calls)
    for name in ("stream", "alerts"):
        m = mounts(services[name])
        token_file = Path(services[name]["environment"]["FOOTPOD_INFLUX_TOKEN_FILE"])
        assert m[str(token_file.parent)] == ("influx-token-write", "ro"), name
        assert "FOOTPOD_INFLUX_TOKEN" not in services[name]["environment"]
    assert services["bridge"]["environment"]["FOOTPOD_INFLUX_TOKEN_FILE"] == ""
    assert all(not src.startswith("influx-token") for src, _ in mounts(services["bridge"]).values())
    assert ("influx-token-read", "ro") in mounts(services["grafana"]).values()
    assert all(src != "influx-token-write" for src, _ in mounts(services["grafana"]).values())


def test_mqtt_tls_listener_on_8883_with_certificates_from_env(services):
    tls = directives("deploy/mosquitto/tls.conf")
    assert tls["listener"] == "8883"
    m = mounts(services["mosquitto"])
    assert m[tls["certfile"]][0] == "${FOOTPOD_MQTT_TLS_CERT:?set FOOTPOD_MQTT_TLS_CERT in .env}"
    assert m[tls["keyfile"]][0] == "${FOOTPOD_MQTT_TLS_KEY:?set FOOTPOD_MQTT_TLS_KEY in .env}"
    command = " ".join(services["mosquitto"]["command"])
    assert "/mosquitto/config/mosquitto.conf /mosquitto/config/tls.conf" in command
    assert m["/mosquitto/config/tls.conf"][0] == "./deploy/mosquitto/tls.conf"


def test_grafana_serves_https_with_its_own_certificate(services):
    svc = services["grafana"]
    env, m = svc["environment"], mounts(svc)
    assert env["GF_SERVER_PROTOCOL"] == "https"
    assert m[env["GF_SERVER_CERT_FILE"]][0].startswith("${FOOTPOD_GRAFANA_TLS_CERT")
    assert m[env["GF_SERVER_CERT_KEY"]][0].startswith("${FOOTPOD_GRAFANA_TLS_KEY")
    assert "https://localhost:3000/api/health" in " ".join(svc["healthcheck"]["test"])
