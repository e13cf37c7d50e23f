"""The log format follows stderr: JSON lines off a terminal, rich on one."""

import io
import json
import logging
import sys

from rich.logging import RichHandler

from footpod import logs


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_each_record_is_one_json_object_on_one_line():
    stream = io.StringIO()
    handler = logs.make_handler(stream)
    record = logging.LogRecord(
        "footpod.stream",
        logging.INFO,
        __file__,
        1,
        "%d samples read,\nsecond line of the message " + "x" * 200,
        (12,),
        None,
    )
    handler.emit(record)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["level"] == "info" and entry["logger"] == "footpod.stream"
    assert entry["msg"].startswith("12 samples read,\nsecond line") and entry["ts"].endswith("+00:00")


def test_a_traceback_stays_inside_its_json_line():
    stream = io.StringIO()
    handler = logs.make_handler(stream)
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("footpod.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    handler.emit(record)
    (line,) = stream.getvalue().splitlines()
    assert "ValueError: boom" in json.loads(line)["exc"]


def test_on_a_terminal_the_handler_is_rich():
    assert isinstance(logs.make_handler(Terminal()), RichHandler)
    assert not isinstance(logs.make_handler(io.StringIO()), RichHandler)


def test_info_shows_our_progress_lines_and_keeps_chatty_libraries_at_warning():
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure("info", stream)
        logging.getLogger("footpod.stream").info("1000 samples read")
        logging.getLogger("httpx").info("HTTP Request: POST /write")
        assert [json.loads(line)["msg"] for line in stream.getvalue().splitlines()] == ["1000 samples read"]
        logs.configure("debug", stream)
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.DEBUG
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name in logs.QUIET_AT_INFO:
            logging.getLogger(name).setLevel(logging.NOTSET)
