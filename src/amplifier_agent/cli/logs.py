"""Log output for the CLI: one stderr handler, SDK chatter quieted, tracebacks only on request."""

from __future__ import annotations

import logging
import sys

#: Client libraries that log every upstream request at INFO; their lines add nothing to ours.
QUIET_LOGGERS = ("httpx2", "httpx", "httpcore2", "httpcore", "anthropic", "openai", "mcp")


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str, *, tracebacks: bool) -> None:
        super().__init__(fmt)
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if not self._tracebacks and (record.exc_info or record.exc_text):
            record = logging.makeLogRecord(record.__dict__)
            record.msg = f"{record.getMessage()} ({_exception_summary(record)})"
            record.args, record.exc_info, record.exc_text = None, None, None
        return super().format(record)


def _exception_summary(record: logging.LogRecord) -> str:
    exc = record.exc_info[1] if record.exc_info else None
    return f"{type(exc).__name__}: {exc}" if exc is not None else "see --debug"


def configure_logging(level: str, *, fmt: str, tracebacks: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(fmt, tracebacks=tracebacks))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
