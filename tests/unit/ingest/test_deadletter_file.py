"""The bridge's dead letters are kept on disk too, one JSON line each, beside the Kafka topic (no sockets)."""

import json

from footpod.settings import Settings
from ingest.bridge import keep_dead_letters
from ingest.validate import judge

NOW = 1_764_000_000_000
GOOD = json.dumps({"ts": NOW - 1000, "device_id": "p", "cadence_spm": 170.0, "distance_m": 1.0}).encode()


def test_each_dead_letter_is_appended_to_the_data_dirs_jsonl_with_its_reason(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    bad = judge("footpod/alice/samples", b"{not json", NOW, 300_000)
    good = judge("footpod/alice/samples", GOOD, NOW, 300_000)
    keep_dead_letters(settings, [bad, good])
    keep_dead_letters(settings, [bad])
    lines = [json.loads(line) for line in (tmp_path / "deadletter" / "bridge.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(line["topic"] == "footpod/alice/samples" and line["reason"] for line in lines)


def test_no_file_is_made_when_nothing_is_dead_lettered(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    good = judge("footpod/alice/samples", GOOD, NOW, 300_000)
    keep_dead_letters(settings, [good])
    assert not (tmp_path / "deadletter").exists()
