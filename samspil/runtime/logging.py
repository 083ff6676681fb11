"""structlog, configured once per process: JSON when not on a terminal, readable on one.

Every line about a message carries its event id, type and correlation id (bound by the
consumer). As a last line of defence, anything shaped like a CPR number is masked.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
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


# Libraries that log each failed connection attempt, many times a second while the broker is away.
RATE_LIMITED_LOGGERS = ("aiokafka", "faststream")
_MAX_KINDS = 1000


@dataclass
class _Seen:
    logged_at: float
    held: int = 0


class RepeatLimiter(logging.Filter):
    """Lets through the first record of each kind (logger, message template, level and the types
    of the errors it carries) from the noisy libraries, then at most one per ``interval``
    seconds, which says how many like it were held back. A broker that is away for a minute then
    costs a few lines, not a thousand; a different failure (another error type, or a worse
    level) is another kind and passes at once. Errors are not exempt: aiokafka logs each failed
    connection attempt at error level."""

    def __init__(
        self,
        interval: float,
        prefixes: tuple[str, ...] = RATE_LIMITED_LOGGERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self._prefixes = prefixes
        self._clock = clock
        self._seen: dict[tuple[str, str, int, tuple[str, ...]], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not any(record.name == p or record.name.startswith(p + ".") for p in self._prefixes):
            return True
        key = (record.name, str(record.msg), record.levelno, _error_types(record))
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen.logged_at < self.interval:
            seen.held += 1
            return False
        if seen is not None and seen.held:
            # No "%" added: the record's own arguments are still formatted into its message.
            record.msg = f"{record.msg} [{seen.held} more like it in {round(now - seen.logged_at)} s]"
        if len(self._seen) >= _MAX_KINDS:
            # Lines that carry their values in the text: forget them all (each kind passes once
            # more), rather than sift them on every line.
            self._seen.clear()
        self._seen[key] = _Seen(now)
        return True


def _error_types(record: logging.LogRecord) -> tuple[str, ...]:
    """The types of the exceptions the record carries, as its traceback or among its arguments."""
    types = [type(arg).__name__ for arg in _arguments(record) if isinstance(arg, BaseException)]
    if record.exc_info and record.exc_info[1] is not None:
        types.append(type(record.exc_info[1]).__name__)
    return tuple(types)


def _arguments(record: logging.LogRecord) -> tuple[Any, ...]:
    if isinstance(record.args, tuple):
        return record.args
    return tuple(record.args.values()) if isinstance(record.args, dict) else ()


def configure_logging(
    service: str, fmt: str = "auto", level: str = "info", repeat_interval: float = 30.0
) -> None:
    """Configure structlog and route the standard library's loggers (uvicorn, aiokafka,
    FastStream) through the same renderer; the Kafka libraries' repeated lines at most once per
    ``repeat_interval`` seconds each."""
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
        # A line below the level is dropped before any processor runs: a debug line in a hot
        # path costs one level check, not a timestamp, a context merge and a CPR scan.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatLimiter(repeat_interval))
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
