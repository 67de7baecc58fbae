"""Logging of every process: text (default) or one JSON object per line.

`REBATE_LOG_FORMAT=json` (or `--log-format json` of `rebate` and `python -m workers`) writes
JSON lines with `ts`, `level`, `logger`, `message` and whatever the call site passed in `extra`
(`queue_id`, `event_key`, `job` …), plus `request_id` inside an API request. `REBATE_LOG_LEVEL`
sets the level (default INFO). The worker's sweeper runs every 2 s: its job lines are DEBUG.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName", "color_message"}
_QUIET_JOBS = re.compile(r"[→←↻] cron:sweep\b")  # arq's start and end lines of these jobs are DEBUG, not INFO


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the `extra` fields of the call become keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            line["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line and key != "request_id" and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [request_id=… queue_id=…]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_") and k != "request_id"}
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            extra = {"request_id": rid, **extra}
        return text + ("  " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


class StampRequestId(logging.Filter):
    """Puts the current request id on the record when it is emitted (in the request's context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class QuietJobs(logging.Filter):
    """arq logs every job's start and end at INFO; the sweeper's (every 2 s) become DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and _QUIET_JOBS.search(record.getMessage()):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def log_format(value: str | None = None) -> str:
    chosen = (value or os.environ.get("REBATE_LOG_FORMAT") or "text").lower()
    if chosen not in FORMATS:
        raise ValueError(f"log format {chosen!r}: one of {', '.join(FORMATS)}")
    return chosen


UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _set_up_by_uvicorn() -> bool:
    """Whether uvicorn's own logging set-up ran in this process (its `uvicorn` logger then has a
    handler of its own, or no propagation): the API process, before it builds the app."""
    server = logging.getLogger("uvicorn")
    return bool(server.handlers) or not server.propagate


def configure(fmt: str | None = None, level: str | None = None) -> None:
    """Route every logger (the engine's, arq's, uvicorn's) to one stderr handler in `fmt`. In the
    API process uvicorn's options keep their effect: `--log-level` where it is stricter than the
    level here (`--log-level warning` drops the per-request access line), `--no-access-log`."""
    chosen = log_format(fmt)
    level_name = (level or os.environ.get("REBATE_LOG_LEVEL") or "INFO").strip().upper()
    if level_name not in logging.getLevelNamesMapping():
        raise ValueError(f"log level {level_name.lower()!r}: one of debug, info, warning, error, critical")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.set_name("rebate")
    handler.addFilter(StampRequestId())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "rebate"]:  # another's handler (a test's) stays
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    by_uvicorn = _set_up_by_uvicorn()
    for name in ("arq", "arq.worker", "arq.jobs", "arq.connections", *UVICORN):
        other = logging.getLogger(name)
        if by_uvicorn and name == "uvicorn.access" and not other.handlers:
            continue  # `--no-access-log`: uvicorn took its handlers and its propagation away; it stays silent
        level = max(other.level, root.level) if by_uvicorn and name in UVICORN and other.level else logging.NOTSET
        other.handlers.clear()
        other.propagate = True
        other.setLevel(level)
    arq_worker = logging.getLogger("arq.worker")
    if not any(isinstance(f, QuietJobs) for f in arq_worker.filters):
        arq_worker.addFilter(QuietJobs())
