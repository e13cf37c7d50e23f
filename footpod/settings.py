"""Settings: one frozen pydantic-settings class, read once in `main()` and passed down."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from footpod.thresholds import ACWR_MIN_CHRONIC_WEEK_KM, PAIN_SETTLE_MAX_S, PAIN_SETTLE_S


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
    bridge_batch_max: int = Field(2000, ge=1, description="FOOTPOD_BRIDGE_BATCH_MAX: MQTT messages per Kafka hand-off")
    stream_batch_max: int = Field(5000, ge=1, description="FOOTPOD_STREAM_BATCH_MAX: Kafka records per stream step")
    # Notifications (README, "Notifications"): the outbox lives in data_dir unless set.
    notify_outbox: Path | None = Field(None, description="FOOTPOD_NOTIFY_OUTBOX (SQLite)")
    notify_retry_for_s: float = Field(6 * 3600.0, gt=0, description="FOOTPOD_NOTIFY_RETRY_FOR_S: then dead-lettered")
    notify_backoff_s: float = Field(5.0, gt=0, description="FOOTPOD_NOTIFY_BACKOFF_S: first wait, doubling")
    notify_backoff_max_s: float = Field(600.0, gt=0, description="FOOTPOD_NOTIFY_BACKOFF_MAX_S: longest wait")
    notify_daily_hour_utc: int = Field(6, ge=0, le=23, description="FOOTPOD_NOTIFY_DAILY_HOUR_UTC")
    # CONTRACT.md: status at least once a day for every known runner; ours: every hour, so a run
    # leaving the 7-day window shows within the hour.
    status_every_s: float = Field(3600.0, gt=0, description="FOOTPOD_STATUS_EVERY_S")
    # FAULTS.md row 16: the local stack restarts its Kafka (Tansu keeps every record in memory) empty
    # once it holds more than this, and only once every consumed record is committed; 0: never.
    kafka_recycle_mib: int = Field(1024, ge=0, description="FOOTPOD_KAFKA_RECYCLE_MIB")

    @property
    def notify_outbox_path(self) -> Path:
        return self.notify_outbox or self.data_dir / "notify.sqlite"

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(part.split("://", 1)[-1] for part in self.kafka_url.split(","))

    @property
    def mqtt(self) -> "MqttEndpoint":
        return MqttEndpoint.parse(self.mqtt_url)


class MqttEndpoint:
    """Host, port and credentials of an mqtt:// URL."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None, tls: bool):
        self.host, self.port, self.username, self.password, self.tls = host, port, username, password, tls

    @classmethod
    def parse(cls, url: str) -> "MqttEndpoint":
        parts = urlsplit(url)
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883),
                   parts.username, parts.password, tls)
