"""`forget` empties the outbox of one runner: their alerts' rows for every target and their daily
lines, and nothing of anyone else."""

from alerts.notify import Outbox, daily_key


def test_forget_deletes_a_runners_alert_and_daily_rows_and_nothing_else(tmp_path):
    outbox = Outbox(tmp_path / "notify.sqlite")
    outbox.add("alert-kim-1", ["json://coach", "json://kim"], "t", "b", "warning", 0)
    outbox.add(daily_key("kim", 1_767_254_400_000, 6), ["json://kim"], "t", "b", "info", 0)  # 2026-01-01 08:00
    outbox.add(daily_key("kimberly", 1_767_254_400_000, 6), ["json://kimberly"], "t", "b", "info", 0)
    outbox.add(daily_key("Kim", 1_767_254_400_000, 6), ["json://other-kim"], "t", "b", "info", 0)  # case counts
    outbox.add("alert-lena-1", ["json://coach"], "t", "b", "warning", 0)

    assert outbox.forget("kim", ["alert-kim-1", "alert-kim-never-queued"]) == 3

    left = sorted(key for (key,) in outbox.db.execute("SELECT key FROM outbox"))
    assert left == ["alert-lena-1", "daily:Kim:2026-01-01", "daily:kimberly:2026-01-01"]
    outbox.close()
