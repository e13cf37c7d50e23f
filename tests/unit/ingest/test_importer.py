"""The import shell (ingest/importer.py) with a fake broker: what is published, when, and the exit code."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from rich.console import Console

from ingest.importer import Summary, find_files, import_file, import_paths, summary_table, watch_folder

FUTURE_S = 300.0  # FOOTPOD_MAX_FUTURE_S
FIT = Path(__file__).resolve().parents[2] / "data" / "fit"


class FakePublisher:
    """Records deliveries: one list of messages per `deliver` call (a file's worth)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, list[list[dict]]]] = []

    def deliver(self, topic: str, payloads) -> None:
        self.deliveries.append((topic, [json.loads(payload) for payload in payloads]))

    @property
    def messages(self) -> list[list[dict]]:
        return [batch for _, batches in self.deliveries for batch in batches]


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def test_a_files_runs_are_delivered_on_the_runners_samples_topic_in_one_acknowledged_delivery():
    publisher = FakePublisher()
    result = import_file(FIT / "sample_mulitple_header.fit", "alice", publisher, FUTURE_S)
    assert result.outcome == "imported"
    assert [topic for topic, _ in publisher.deliveries] == ["footpod/alice/samples"]
    assert [len(batch) for batch in publisher.messages] == [518]


def test_a_rejected_file_publishes_nothing():
    publisher = FakePublisher()
    for name in ("strava-android-app-201.10-b1218918.fit", "invalid-activity-settings-corruptheader.fit"):
        result = import_file(FIT / name, "alice", publisher, FUTURE_S)
        assert result.outcome == "rejected"
    assert publisher.messages == []


def test_a_missing_file_is_rejected_with_a_reason(tmp_path):
    result = import_file(tmp_path / "gone.fit", "alice", FakePublisher(), FUTURE_S)
    assert result.outcome == "rejected" and "cannot read" in result.reason


def test_folders_are_searched_recursively_for_fit_files_only(tmp_path):
    (tmp_path / "2017" / "june").mkdir(parents=True)
    shutil.copy(FIT / "garmin-fenix-5-run.fit", tmp_path / "2017" / "june" / "RUN.FIT")
    shutil.copy(FIT / "garmin-fenix-5-walk.fit", tmp_path / "walk.fit")
    (tmp_path / "notes.txt").write_text("not a fit file")
    found = find_files([tmp_path, tmp_path / "walk.fit"])
    assert sorted(p.name for p in found) == ["RUN.FIT", "walk.fit"]


def test_the_whole_folder_imports_every_run_and_exits_1_for_its_rejected_files():
    publisher = FakePublisher()
    summary = import_paths([FIT], "alice", publisher, quiet(), FUTURE_S, progress=False)
    assert len(summary.results) == 12
    assert summary.runs == 5 and len(summary.rejected) == 4
    assert summary.samples == sum(len(batch) for batch in publisher.messages)
    assert summary.exit_code() == 1
    table = summary_table(summary)
    assert table.row_count == 13  # a row per file and the total


def test_skipped_files_alone_exit_0(tmp_path):
    shutil.copy(FIT / "garmin-fenix-5-walk.fit", tmp_path)
    shutil.copy(FIT / "antfs-dump.63.fit", tmp_path)
    summary = import_paths([tmp_path], "alice", FakePublisher(), quiet(), FUTURE_S, progress=False)
    assert [r.outcome for r in summary.results] == ["skipped", "skipped"]
    assert summary.exit_code() == 0
    assert Summary().exit_code() == 0


def test_watch_imports_a_dropped_file_once_its_size_holds_still_and_only_once(tmp_path):
    publisher = FakePublisher()
    polls = []
    target = tmp_path / "synced" / "run.fit"
    target.parent.mkdir()
    data = (FIT / "garmin-fenix-5-run.fit").read_bytes()

    def stop() -> bool:
        polls.append(len(publisher.messages))
        if len(polls) == 2:
            target.write_bytes(data[:1000])  # the sync is still writing
        if len(polls) == 3:
            target.write_bytes(data)  # now complete
        return len(polls) > 7

    watch_folder(tmp_path, "alice", publisher, quiet(), FUTURE_S, poll_s=0.0, stop=stop)
    # never the half-written file; the whole file once, after its size held for one poll
    assert len(publisher.messages) == 1 and len(publisher.messages[0]) == 21
    assert polls[:5] == [0, 0, 0, 0, 1]
