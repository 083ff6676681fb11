"""structlog, configured once per process: JSON when not on a terminal, readable on one.

Every line about a message carries its event id, type and correlation id (bound by the
consumer). As a last line of defence, anything shaped like a CPR number is masked.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from schemas.envelope import mask_cpr_numbers

_configured = False


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_cpr_numbers(value)
    if isinstance(value, bytes):
        return mask_cpr_numbers(value.decode("utf-8", "replace"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        written = str(value)
        return value if mask_cpr_numbers(written) == written else "[cpr-masked]"
    if isinstance(value, dict):
        return {_mask(key) if isinstance(key, str) else key: _mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(item) for item in value]
    return value


def mask_cpr(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    masked = _mask(dict(event_dict))
    event_dict.clear()
    event_dict.update(masked)
    return event_dict


class _ServiceName:
    def __init__(self, service: str) -> None:
        self._service = service

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", self._service)
        return event_dict


def configure_logging(service: str, fmt: str = "auto", level: str = "info") -> None:
    """Configure structlog and route the standard library's loggers (uvicorn, aiokafka,
    FastStream) through the same renderer."""
    global _configured
    if _configured:
        return
    _configured = True
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _ServiceName(service),
        mask_cpr,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faststream", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
