"""A service's MQTT client id cannot be guessed, yet is found again after a restart (FAULTS.md row 15)."""

import stat

from footpod.mqtt import service_client_id
from footpod.settings import Settings


def test_the_id_is_the_same_across_restarts_of_one_installation(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert service_client_id(settings, "bridge") == service_client_id(Settings(data_dir=tmp_path), "bridge")


def test_two_installations_have_different_ids_and_neither_is_the_public_name(tmp_path):
    first = service_client_id(Settings(data_dir=tmp_path / "a"), "bridge")
    second = service_client_id(Settings(data_dir=tmp_path / "b"), "bridge")
    assert first != second and "footpod-bridge" not in (first, second)
    assert len(first) >= len("footpod-bridge-") + 32


def test_the_secret_is_readable_by_its_owner_only(tmp_path):
    service_client_id(Settings(data_dir=tmp_path), "bridge")
    mode = stat.S_IMODE((tmp_path / "secrets" / "mqtt-client-id").stat().st_mode)
    assert mode == 0o600


def test_with_a_broker_login_the_id_is_the_user_name_the_broker_binds_it_to(tmp_path):
    settings = Settings(data_dir=tmp_path, mqtt_url="mqtt://bridge:pw@broker:1883")
    assert service_client_id(settings, "bridge") == "bridge"
    assert not (tmp_path / "secrets").exists()
