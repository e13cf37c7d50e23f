"""FOOTPOD_*_FILE variables and the one-line error of a bad setting."""

import pytest
from pydantic import BaseModel, ValidationError

from footpod.errors import ConfigError
from footpod.settings import load_settings, settings_error_line


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "FOOTPOD_INFLUX_TOKEN",
        "FOOTPOD_INFLUX_TOKEN_FILE",
        "FOOTPOD_MQTT_PASSWORD",
        "FOOTPOD_MQTT_PASSWORD_FILE",
        "FOOTPOD_RUN_GAP_S",
        "FOOTPOD_RUN_GAP_S_FILE",
        "FOOTPOD_MQTT_URL",
        "FOOTPOD_LOG_LEVEL",
        "FOOTPOD_METRICS_PORT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_token_is_read_from_the_file_its_file_variable_names(tmp_path, monkeypatch):
    secret = tmp_path / "influx-token"
    secret.write_text("s3cr3t-write-token\n")  # as `echo ... > file` leaves it
    monkeypatch.setenv("FOOTPOD_INFLUX_TOKEN_FILE", str(secret))
    assert load_settings().influx_token.get_secret_value() == "s3cr3t-write-token"


def test_any_setting_can_come_from_a_file_and_is_validated_like_the_variable(tmp_path, monkeypatch):
    (tmp_path / "gap").write_text("120")
    monkeypatch.setenv("FOOTPOD_RUN_GAP_S_FILE", str(tmp_path / "gap"))
    assert load_settings().run_gap_s == 120.0
    (tmp_path / "gap").write_text("soon")
    with pytest.raises(ConfigError, match="FOOTPOD_RUN_GAP_S"):
        load_settings()


def test_the_mqtt_password_file_replaces_the_password_of_the_url(tmp_path, monkeypatch):
    (tmp_path / "pw").write_text("from-file")
    monkeypatch.setenv("FOOTPOD_MQTT_URL", "mqtts://bridge@broker.example:8883")
    monkeypatch.setenv("FOOTPOD_MQTT_PASSWORD_FILE", str(tmp_path / "pw"))
    endpoint = load_settings().mqtt
    assert (endpoint.username, endpoint.password, endpoint.port, endpoint.tls) == ("bridge", "from-file", 8883, True)


def test_a_variable_and_its_file_variable_together_are_refused(tmp_path, monkeypatch):
    (tmp_path / "t").write_text("a")
    monkeypatch.setenv("FOOTPOD_INFLUX_TOKEN", "b")
    monkeypatch.setenv("FOOTPOD_INFLUX_TOKEN_FILE", str(tmp_path / "t"))
    with pytest.raises(ConfigError, match="FOOTPOD_INFLUX_TOKEN and FOOTPOD_INFLUX_TOKEN_FILE are both set"):
        load_settings()


def test_a_file_that_cannot_be_read_names_its_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FOOTPOD_INFLUX_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"^FOOTPOD_INFLUX_TOKEN_FILE=.*missing: cannot read it"):
        load_settings()


def test_a_bad_value_is_one_line_naming_the_variable_and_its_value(monkeypatch):
    monkeypatch.setenv("FOOTPOD_RUN_GAP_S", "abc")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("FOOTPOD_RUN_GAP_S=abc: ")
    assert "\n" not in message


def test_a_bad_secret_is_named_but_never_echoed():
    class WithSecret(BaseModel):
        influx_token: int  # any model whose field is named like a secret

    with pytest.raises(ValidationError) as caught:
        WithSecret(influx_token="s3cr3t-value")
    line = settings_error_line(caught.value)
    assert line.startswith("FOOTPOD_INFLUX_TOKEN: ") and "s3cr3t" not in line


def test_the_log_level_is_read_in_any_case_and_checked(monkeypatch):
    monkeypatch.setenv("FOOTPOD_LOG_LEVEL", "DEBUG")
    assert load_settings().log_level.lower() == "debug"
    monkeypatch.setenv("FOOTPOD_LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match="^FOOTPOD_LOG_LEVEL=chatty: "):
        load_settings()
