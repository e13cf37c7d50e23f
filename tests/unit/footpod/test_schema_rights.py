"""The queries behind `export` and `forget`, as the store receives them."""

from footpod import schema


def test_export_reads_every_point_of_the_runner_oldest_first():
    assert (
        schema.runner_all_query(schema.PAIN, "kim") == 'SELECT * FROM "pain" WHERE "runner" = \'kim\' ORDER BY time ASC'
    )
    assert [m.name for m in schema.EXPORTED] == ["run", "load", "pain", "alert"]


def test_forget_drops_the_runner_in_every_measurement_on_1x():
    # no FROM: DROP SERIES then matches the tag in every measurement, cadence included
    assert schema.runner_drop_query("kim") == "DROP SERIES WHERE \"runner\" = 'kim'"
    assert all("runner" in m.tags for m in schema.MEASUREMENTS)


def test_the_2x_delete_predicate_quotes_the_runner():
    assert schema.runner_delete_predicate("kim.o") == 'runner="kim.o"'
    assert schema.runner_delete_predicate('a"b') == 'runner="a\\"b"'
