"""The sync's pure helpers: Grafana's address, which folder permissions count, and how a stored
dashboard is compared (no sockets; the sync itself is tested in tests/integration)."""

from __future__ import annotations

import pytest

from dashboards import grafana_sync


@pytest.mark.parametrize(
    "url, api",
    [
        ("https://grafana.example.org:3000", "https://grafana.example.org:3000/api"),
        ("https://grafana.example.org:3000/", "https://grafana.example.org:3000/api"),
        ("https://example.org/grafana", "https://example.org/grafana/api"),  # behind a proxy, under a path
        ("https://example.org/grafana/", "https://example.org/grafana/api"),
    ],
)
def test_the_api_is_found_under_grafanas_address(url, api):
    assert grafana_sync.connect(url, "admin", "pw").client.url == api


@pytest.mark.parametrize(
    "item, key",
    [
        ({"teamId": 7, "permission": 1}, ("team", 7, 1)),
        ({"userId": 1, "teamId": 0, "role": "", "permission": 4}, ("user", 1, 4)),
        ({"role": "Viewer", "userId": 0, "teamId": 0, "permission": 1}, ("role", "Viewer", 1)),
        ({"role": "Editor", "permission": 2}, ("role", "Editor", 2)),
        ({"role": "Admin", "permission": 4}, None),  # nobody can change the Admin role's
        ({"teamId": 7, "permission": 1, "inherited": True}, None),  # a parent folder's
    ],
)
def test_which_folder_permissions_the_sync_compares(item, key):
    assert grafana_sync.permission_key(item) == key


def test_a_stored_dashboard_compares_without_the_id_and_version_grafana_adds():
    built = {"uid": "u", "title": "t", "panels": [1]}
    assert grafana_sync.stored_form({**built, "id": 12, "version": 3}) == built
    assert grafana_sync.stored_form({**built, "id": 12, "panels": []}) != built
