"""Settings: one frozen pydantic-settings class, read once in `main()` and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from footpod.errors import ConfigError
from footpod.thresholds import ACWR_MIN_CHRONIC_WEEK_KM, PAIN_SETTLE_MAX_S, PAIN_SETTLE_S, PUSH_WITHIN_DAYS


class Settings(BaseSettings):
    """Every field is read from the `FOOTPOD_<NAME>` environment variable."""

    model_config = SettingsConfigDict(env_prefix="FOOTPOD_", frozen=True, extra="ignore")

    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="FOOTPOD_MQTT_URL: mqtt://user:pass@host:port")
    kafka_url: str = Field("kafka://127.0.0.1:9092", description="FOOTPOD_KAFKA_URL: kafka://host:port[,host:port]")
    influx_url: str = Field("http://127.0.0.1:8086", description="FOOTPOD_INFLUX_URL")
    influx_token: SecretStr = Field(SecretStr(""), description="FOOTPOD_INFLUX_TOKEN (InfluxDB 2.x/3.x)")
    influx_org: str = Field("footpod", description="FOOTPOD_INFLUX_ORG (InfluxDB 2.x)")
    influx_bucket: str = Field("footpod", description="FOOTPOD_INFLUX_BUCKET: bucket (2.x/3.x) or database (1.x)")
    influx_api: str = Field("auto", pattern="^(auto|v1|v2)$", description="FOOTPOD_INFLUX_API: auto reads /ping")
    roster: Path | None = Field(None, description="FOOTPOD_ROSTER: YAML file, runners -> team")
    grafana_url: str | None = Field(None, description="FOOTPOD_GRAFANA_URL")
    grafana_token: SecretStr | None = Field(None, description="FOOTPOD_GRAFANA_TOKEN")
    # `footpod-monitor dashboards grafana-sync` / `add-coach` (README, "Grafana for coaches"): a Grafana
    # server admin (the admin users API takes no token), the password best from FOOTPOD_GRAFANA_ADMIN_PASSWORD_FILE.
    grafana_admin_user: str = Field("admin", description="FOOTPOD_GRAFANA_ADMIN_USER")
    grafana_admin_password: SecretStr | None = Field(None, description="FOOTPOD_GRAFANA_ADMIN_PASSWORD")
    data_dir: Path = Field(Path(".footpod"), description="FOOTPOD_DATA_DIR: local stack data and logs")
    kafka_partitions: int = Field(8, ge=1, description="FOOTPOD_KAFKA_PARTITIONS for the topics we create")
    # Ours (RULES.md §1): runs are cut at gaps longer than this, in event time.
    run_gap_s: float = Field(300.0, gt=0, description="FOOTPOD_RUN_GAP_S")
    # Ours (RULES.md §1): a distance step faster than this is a glitch and adds nothing.
    glitch_mps: float = Field(12.0, gt=0, description="FOOTPOD_GLITCH_MPS")
    # Ours (RULES.md §1): samples below this cadence are walking or standing.
    running_cadence_spm: float = Field(140.0, ge=0, description="FOOTPOD_RUNNING_CADENCE_SPM")
    # Ours (RULES.md §1 "a whole run"): a run is judged once none of it has arrived for this long.
    run_settle_s: float = Field(30.0, ge=0, description="FOOTPOD_RUN_SETTLE_S")
    # CONTRACT.md: a timestamp further ahead than this is rejected.
    max_future_s: float = Field(300.0, ge=0, description="FOOTPOD_MAX_FUTURE_S")
    # CONTRACT.md: status every 10 s while a run is under way.
    live_status_interval_s: float = Field(10.0, gt=0, description="FOOTPOD_LIVE_STATUS_INTERVAL_S")
    # Ours (RULES.md §2 acwr rules): no ACWR alert over a month of less than this a week (km).
    acwr_min_chronic_km: float = Field(ACWR_MIN_CHRONIC_WEEK_KM, ge=0, description="FOOTPOD_ACWR_MIN_CHRONIC_KM")
    # Ours (RULES.md §3 arrival order): a pain report is decided once no sample of its runner
    # arrived for this long, at the latest pain_settle_max_s after the report.
    pain_settle_s: float = Field(PAIN_SETTLE_S, ge=0, description="FOOTPOD_PAIN_SETTLE_S")
    pain_settle_max_s: float = Field(PAIN_SETTLE_MAX_S, ge=0, description="FOOTPOD_PAIN_SETTLE_MAX_S")
    # Ours (RULES.md §7 alert hygiene): alerts whose event time is older than this many days are
    # stored and shown by `status`, not published on MQTT nor sent as notifications.
    push_within_days: float = Field(PUSH_WITHIN_DAYS, ge=0, description="FOOTPOD_PUSH_WITHIN_DAYS")
    bridge_batch_max: int = Field(2000, ge=1, description="FOOTPOD_BRIDGE_BATCH_MAX: MQTT messages per Kafka hand-off")
    stream_batch_max: int = Field(5000, ge=1, description="FOOTPOD_STREAM_BATCH_MAX: Kafka records per stream step")
    # Ours (README "Speed"): how long a consumer's fetch may wait at the broker for records. Faust fixes
    # it at 1,500 ms; Tansu answers a waiting fetch only when the wait is up, not when records arrive.
    kafka_fetch_wait_ms: int = Field(
        20, ge=0, le=1500, description="FOOTPOD_KAFKA_FETCH_WAIT_MS: longest wait of a consumer's fetch"
    )
    # Ours (README "Speed"): after fetches that brought nothing, the wait doubles up to this, so a stack at
    # rest does not fetch 50 times a second per worker; the first fetch with records brings it back down.
    kafka_fetch_wait_at_rest_ms: int = Field(
        100, ge=0, le=1500, description="FOOTPOD_KAFKA_FETCH_WAIT_AT_REST_MS: a consumer's fetch wait at rest"
    )
    # Notifications (README, "Notifications"): the outbox lives in data_dir unless set.
    notify_outbox: Path | None = Field(None, description="FOOTPOD_NOTIFY_OUTBOX (SQLite)")
    notify_retry_for_s: float = Field(6 * 3600.0, gt=0, description="FOOTPOD_NOTIFY_RETRY_FOR_S: then dead-lettered")
    notify_backoff_s: float = Field(5.0, gt=0, description="FOOTPOD_NOTIFY_BACKOFF_S: first wait, doubling")
    notify_backoff_max_s: float = Field(600.0, gt=0, description="FOOTPOD_NOTIFY_BACKOFF_MAX_S: longest wait")
    notify_daily_hour_utc: int = Field(6, ge=0, le=23, description="FOOTPOD_NOTIFY_DAILY_HOUR_UTC")
    # CONTRACT.md: status at least once a day for every known runner; ours: every hour, so a run
    # leaving the 7-day window shows within the hour.
    status_every_s: float = Field(3600.0, gt=0, description="FOOTPOD_STATUS_EVERY_S")
    # Operations (README, "Metrics and health", "Logs", "Hardening").
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="FOOTPOD_METRICS_PORT: /metrics and /healthz; unset: the "
        "stage's default (footpod/metrics.py), 0: off",
    )
    metrics_host: str = Field("127.0.0.1", description="FOOTPOD_METRICS_HOST: address they listen on")
    log_level: str = Field(
        "info",
        pattern="^(?i:debug|info|warning|error)$",
        description="FOOTPOD_LOG_LEVEL: debug, info, warning or error (the CLI's -l wins)",
    )
    mqtt_password: SecretStr | None = Field(None, description="FOOTPOD_MQTT_PASSWORD: instead of the URL's")
    mqtt_ca_file: Path | None = Field(
        None, description="FOOTPOD_MQTT_CA_FILE: CA of the broker's TLS certificate (mqtts://); unset: the system's"
    )

    # FAULTS.md row 16: the local stack restarts its Kafka (Tansu keeps every record in memory) empty
    # once it holds more than this, and only once every consumed record is committed; 0: never.
    kafka_recycle_mib: int = Field(1024, ge=0, description="FOOTPOD_KAFKA_RECYCLE_MIB")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ):
        return init_settings, env_settings, FileVariables(settings_cls), dotenv_settings, file_secret_settings

    @property
    def notify_outbox_path(self) -> Path:
        return self.notify_outbox or self.data_dir / "notify.sqlite"

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(part.split("://", 1)[-1] for part in self.kafka_url.split(","))

    @property
    def mqtt(self) -> MqttEndpoint:
        endpoint = MqttEndpoint.parse(self.mqtt_url)
        if self.mqtt_password is not None:
            endpoint.password = self.mqtt_password.get_secret_value()
        return endpoint


class FileVariables(PydanticBaseSettingsSource):
    """`FOOTPOD_<NAME>_FILE` for every setting: the value is the named file's content, without its
    trailing newline (Docker and Kubernetes secrets). Setting both `FOOTPOD_<NAME>` and
    `FOOTPOD_<NAME>_FILE` is an error, as is a file that cannot be read."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        environ = {key.upper(): value for key, value in os.environ.items()}
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            variable = f"FOOTPOD_{name.upper()}"
            path = environ.get(f"{variable}_FILE")
            if not path:  # unset, or set empty to say "none"
                continue
            if variable in environ:
                raise ConfigError(f"{variable} and {variable}_FILE are both set: keep one")
            try:
                values[name] = Path(path).read_text().removesuffix("\n").removesuffix("\r")
            except OSError as error:
                raise ConfigError(f"{variable}_FILE={path}: cannot read it ({error.strerror or error})") from error
        return values


def load_settings() -> Settings:
    """The settings from the environment; a value that is not valid raises ConfigError, one line
    naming the variable (never a secret's value)."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(settings_error_line(error)) from None


def settings_error_line(error: ValidationError) -> str:
    parts = []
    for problem in error.errors(include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else ""
        variable = f"FOOTPOD_{name.upper()}"
        secret = any(word in name for word in ("token", "password"))
        shown = "" if secret or problem.get("input") is None else f"={problem['input']}"
        parts.append(f"{variable}{shown}: {problem['msg']}")
    return "; ".join(parts)


class MqttEndpoint:
    """Host, port and credentials of an mqtt:// URL."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None, tls: bool):
        self.host, self.port, self.username, self.password, self.tls = host, port, username, password, tls

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        parts = urlsplit(url)
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), parts.username, parts.password, tls
        )
