"""The gateway's outbox keeps samples on disk, in order, bounded, until they are acknowledged."""

import os
import signal
import subprocess
import sys
import textwrap

from ingest.gateway.distance import Odometer
from ingest.gateway.queue import Outbox, PodState


def sample(device: str, seq: int) -> dict:
    return {
        "ts": 1_780_000_000_000 + seq * 1000,
        "device_id": device,
        "cadence_spm": 170.0,
        "distance_m": seq * 3.0,
        "seq": seq,
    }


def test_rows_come_back_oldest_first_and_leave_only_when_removed(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put([("alice", sample("a", 0)), ("bob", sample("b", 0))], {})
    outbox.put([("alice", sample("a", 1))], {})

    rows = outbox.after(0, 10)
    assert [(r.runner, r.device_id, r.sample["seq"]) for r in rows] == [
        ("alice", "a", 0),
        ("bob", "b", 0),
        ("alice", "a", 1),
    ]
    assert [r.id for r in outbox.after(rows[0].id, 10)] == [rows[1].id, rows[2].id]
    outbox.remove([rows[0].id, rows[2].id])
    assert [r.sample for r in outbox.after(0, 10)] == [sample("b", 0)]
    assert (outbox.pending, outbox.pending_of("a"), outbox.pending_of("b")) == (1, 0, 1)


def test_removing_an_id_twice_or_an_unknown_id_changes_nothing(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put([("alice", sample("a", 0)), ("alice", sample("a", 1))], {})
    first = outbox.after(0, 1)[0].id
    outbox.remove([first])
    outbox.remove([first, 999])

    assert outbox.pending == 1 and outbox.pending_of("a") == 1


def test_rows_and_pod_states_survive_a_reopen(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    odometer = Odometer(distance_m=12.5, last_total_m=100.0, last_ts_ms=1_780_000_000_000)
    outbox.put([("alice", sample("a", 4))], {"a": PodState(5, odometer)})
    outbox.close()

    reopened = Outbox(tmp_path / "outbox.db")
    assert reopened.pod("a") == PodState(5, odometer)
    assert reopened.pod("never-seen") == PodState()
    assert reopened.pending_of("a") == 1 and reopened.after(0, 5)[0].sample == sample("a", 4)


def test_past_its_bound_the_outbox_drops_the_oldest_and_counts_them(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db", max_rows=3)
    for seq in range(5):
        outbox.put([("alice", sample("a", seq))], {})

    assert [r.sample["seq"] for r in outbox.after(0, 10)] == [2, 3, 4]
    assert outbox.dropped == 2 and outbox.pending == 3


def test_what_was_written_before_a_kill_9_is_still_there(tmp_path):
    path = tmp_path / "outbox.db"
    writer = textwrap.dedent(f"""
        import sys, time
        from ingest.gateway.queue import Outbox, PodState
        from pathlib import Path
        outbox = Outbox(Path({str(path)!r}))
        for seq in range(200):
            outbox.put([("alice", {{"device_id": "a", "seq": seq}})], {{"a": PodState(seq + 1)}})
        print("written", flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    assert process.stdout.readline().strip() == "written"
    process.send_signal(signal.SIGKILL)
    process.wait(10)

    outbox = Outbox(path)
    assert [r.sample["seq"] for r in outbox.after(0, 1000)] == list(range(200))
    assert outbox.pod("a").next_seq == 200


def test_meta_values_are_kept(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    assert outbox.meta("clock") is None
    outbox.set_meta("clock", "1,2")
    outbox.close()

    assert Outbox(tmp_path / "outbox.db").meta("clock") == "1,2"
