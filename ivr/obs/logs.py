"""Logs an operator can search by call: every record made while a call runs carries
its call id (a context variable set when the call starts, which asyncio copies into
each task the call starts), and ``--log-format json`` writes one JSON object a line.

Numbers never reach a line in clear: the JSON formatter masks each record itself
(:func:`ivr.privacy.masking.mask_record`, idempotent), so it is safe even where
``install_log_masking`` was not called. The call id is a random UUID, not a number
of the caller's.
"""

from __future__ import annotations

import contextvars
import copy
import json
import logging
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("ivr_call_id",
                                                                      default=None)


def bind_call(call_id: str) -> contextvars.Token[str | None]:
    """From now on, records made in this task (and tasks it starts) carry ``call_id``."""
    return _call_id.set(call_id)


def current_call() -> str | None:
    return _call_id.get()


class CallIdFilter(logging.Filter):
    """Puts ``call_id`` on every record a handler sees (None outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "call_id"):
            record.call_id = _call_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: at (UTC, ISO 8601), level, logger, message, call_id
    (when in a call), exc (when an exception was logged)."""

    def __init__(self) -> None:
        super().__init__()
        self._masker: object | None = None

    def _mask(self, record: logging.LogRecord) -> None:
        from ivr.privacy.masking import default_masker, mask_record

        if self._masker is None:
            self._masker = default_masker()
        mask_record(self._masker, record)  # type: ignore[arg-type]

    def format(self, record: logging.LogRecord) -> str:
        # masked on a copy: the other handlers of the record get it as it was made
        # (masked already where install_log_masking runs, as in `ivr serve`)
        record = copy.copy(record)
        self._mask(record)
        line: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None) or _call_id.get()
        if call_id:
            line["call_id"] = call_id
        if record.exc_text:
            line["exc"] = record.exc_text
        elif record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def use_log_format(fmt: LogFormat, root: logging.Logger | None = None) -> None:
    """Switch the root logger's handlers to ``fmt`` (they exist once ``ivr`` configured
    logging) and give each the call-id filter."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    root = root or logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        if not any(isinstance(f, CallIdFilter) for f in handler.filters):
            handler.addFilter(CallIdFilter())
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
