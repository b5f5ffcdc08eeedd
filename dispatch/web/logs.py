"""The service's logs: one JSON object per line on stderr, for a log shipper to read.

A log line is a document, not prose, so that a collector can filter on ``status`` or
``route`` without a regular expression. Fields come from three places, in this order:
the record itself (time, level, logger), the ``extra`` a call passes, and, when the
message is itself a JSON object (the access log of :mod:`dispatch.web.app` writes one),
that object's fields. Nothing here adds data: what a line carries is decided where it
is logged, and the access log never carries a path, query string or token.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

#: Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON: ``ts``, ``level``, ``logger``, then fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value
        message = record.getMessage()
        fields = _json_object(message)
        if fields is None:
            doc["msg"] = message
        else:
            doc.update({k: v for k, v in fields.items() if k not in {"ts", "level", "logger"}})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def _json_object(message: str) -> dict[str, Any] | None:
    if not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def logging_config(level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for ``dispatch serve`` (and uvicorn's workers).

    ``dispatch.*`` and uvicorn's own loggers write JSON lines to stderr at ``level``;
    uvicorn's access log is switched off (the app writes its own, without query
    strings); anything else reaches the root logger from warnings up, also as JSON.
    Handed to uvicorn as ``log_config`` so that each worker process applies it.
    """
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "dispatch": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "dramatiq": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
