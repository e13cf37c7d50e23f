"""Log set-up for every command: rich on a terminal, one JSON object per line otherwise (so
`docker logs` and log shippers get whole records, never wrapped at 80 columns)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO

# Chatty at info; they speak at our level only under debug.
QUIET_AT_INFO = ("httpx", "httpcore", "faust", "mode", "aiokafka", "kafka", "apprise", "urllib3")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the
    traceback as one string when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def wants_json(stream: IO[str]) -> bool:
    """JSON lines unless the stream is a terminal."""
    isatty = getattr(stream, "isatty", None)
    try:
        return not (isatty and isatty())
    except ValueError:  # a closed stream
        return True


def make_handler(stream: IO[str], console=None) -> logging.Handler:
    """A rich handler on a terminal, else a JSON-lines handler on `stream`."""
    if wants_json(stream):
        handler: logging.Handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        return handler
    from rich.console import Console
    from rich.logging import RichHandler

    return RichHandler(console=console or Console(file=stream), show_path=False)


def configure(level: str, stream: IO[str] | None = None, console=None) -> logging.Handler:
    """Route every logger to one handler at `level`; third-party loggers stay at warning unless
    the level is debug."""
    stream = stream if stream is not None else sys.stderr
    handler = make_handler(stream, console)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING))
    return handler
