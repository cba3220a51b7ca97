"""Logging: structlog renders every line, ours and the libraries' (uvicorn, stdlib `logging`),
as one JSON object (or a readable console line), with the request context and no secrets.

Lines carry `timestamp` (ISO 8601, UTC), `level`, `logger`, `event` and whatever is bound in
structlog's context variables (`request_id`, `connection_id`, `operation_id`; see
app/request_ids.py and app/websocket_handlers.py). Values of secret-looking keys and
secret-looking text (bearer tokens, JWTs, argon2 hashes, `apikey=`) are masked before rendering.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Literal, TextIO

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["json", "console"]

REDACTED = "[REDACTED]"
# Keys compared lower-cased without "_" and "-": newPassword, jwt_secret, X-Api-Key, ...
_SECRET_KEY_ENDINGS = ("password", "secret", "token", "apikey", "authorization", "cookie")
_SECRET_KEYS = frozenset({"passwordhash", "hash", "jwt", "credentials"})
_SECRET_TEXT = (
    # "Bearer <token>" as in an Authorization header.
    (re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+"), r"\1 " + REDACTED),
    # key=value and "key": "value" pairs inside text (URLs, reprs of dicts, messages).
    (
        re.compile(
            r"(?i)(api_?key|auth_?token|token|(?:new_?|current_?)?password|secret)"
            r"(\"?'?\s*[=:]\s*\"?'?)[^&\s\"',;}]+"
        ),
        r"\1\2" + REDACTED,
    ),
    # JSON Web Tokens, wherever they appear.
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), REDACTED),
    # Password hashes in their PHC string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    (re.compile(r"\$argon2(?:id|i|d)\$[A-Za-z0-9+/=$,.-]+"), REDACTED),
)
# websockets (under uvicorn) logs each frame and handshake header at debug level. A frame
# shows its first and last characters, which may be any part of a password or token.
_FRAME = re.compile(r"([<>] (?:TEXT|BINARY|CONT)) .*?( \[\d+ bytes\])?", re.DOTALL)
_SECRET_HEADER = re.compile(
    r"(?i)([<>] (?:proxy-)?(?:authorization|cookie|set-cookie|x-api-key):).*", re.DOTALL
)
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def is_secret_key(key: str) -> bool:
    """Whether values under `key` must never be logged (passwords, tokens, secrets, keys)."""
    normalized = key.lower().replace("_", "").replace("-", "")
    return normalized in _SECRET_KEYS or normalized.endswith(_SECRET_KEY_ENDINGS)


def redact_text(text: str) -> str:
    """`text` with bearer tokens, JWTs, argon2 hashes and `key=value` secrets masked."""
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: object) -> object:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and is_secret_key(key) else _redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: masks secret-keyed values at any depth and secrets inside text.
    Runs last before rendering, after exceptions became text."""
    return {
        key: REDACTED if is_secret_key(key) else _redacted(value)
        for key, value in event_dict.items()
    }


def access_log_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor for stdlib records: uvicorn's access lines become fields, with the
    path cut before its query string (GraphQL GET requests carry variables there). The
    record's arguments (passed along for this) are dropped from every line."""
    args = event_dict.pop("positional_args", ())
    record = event_dict.get("_record")
    if record is None or record.name != "uvicorn.access" or len(args) != 5:
        return event_dict
    client, method, full_path, http_version, status = args
    path = str(full_path).split("?", 1)[0]
    event_dict.update(
        event=f"{method} {path} {status}",
        client=client,
        method=method,
        path=path,
        status=status,
        http_version=http_version,
    )
    return event_dict


def wire_lines(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor for stdlib records: the contents of websocket frames and of secret
    headers in websockets' debug lines are masked (their size and name are kept)."""
    event = event_dict.get("event")
    if isinstance(event, str) and event[:2] in ("< ", "> "):
        if frame := _FRAME.fullmatch(event):
            event_dict["event"] = f"{frame[1]} {REDACTED}{frame[2] or ''}"
        elif header := _SECRET_HEADER.fullmatch(event):
            event_dict["event"] = f"{header[1]} {REDACTED}"
    return event_dict


def configure_logging(
    *, level: str = "info", log_format: LogFormat = "json", stream: TextIO | None = None
) -> None:
    """Route structlog and the stdlib `logging` (uvicorn included) to one handler on `stream`
    (stderr by default: stdout is kept for commands' output). Call once per process, before
    uvicorn starts, and give uvicorn `log_config=None` so it keeps this configuration."""
    context: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *context,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*context, access_log_fields, wire_lines],
            pass_foreign_args=True,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_rendering(log_format),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Python's warnings become log lines too, instead of plain text amid the JSON.
    logging.captureWarnings(True)
    for name in _UVICORN_LOGGERS:
        # uvicorn's own handlers (if any were installed) would print a second, plain line;
        # its level follows the root's (uvicorn sets it again from its log_level).
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)


def _rendering(log_format: LogFormat) -> list[Processor]:
    # Tracebacks without local variables: locals may hold passwords and tokens.
    if log_format == "json":
        return [
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            redact_secrets,
            structlog.processors.JSONRenderer(),
        ]
    return [
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ]
