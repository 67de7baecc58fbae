"""Request bounds: what a request may carry before any resolver sees it (C-8, liveness).

- the body is at most `REBATE_MAX_BODY` bytes (default 1 MiB), else 413, unread past the limit;
- a JSON message is an object, nested at most MAX_DEPTH deep, each string and key at most
  MAX_TEXT characters and free of NUL and other control characters (\\t, \\n, \\r aside); else 400;
- string literals in a GraphQL document follow the same text rule (a typed INVALID_INPUT error).
Refusals name the rule, never echo the offending value.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from services.runtime import whole_number

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32
MAX_TEXT = 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RefusedMessage(json.JSONDecodeError):
    """A JSON message outside the bounds; a JSONDecodeError so every transport refuses it as unreadable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason


def text_problem(value: str) -> str | None:
    """Why a string is refused, or None."""
    if len(value) > MAX_TEXT:
        return f"a string is longer than {MAX_TEXT} characters"
    if _CONTROL.search(value):
        return "a string contains a NUL or another control character"
    return None


def decode_message(data: str | bytes) -> object:
    """json.loads within the bounds. A `query` document (of a request, or of a WebSocket message's
    payload) is exempt from MAX_TEXT: the body size and the token limiter bound it."""
    value = loads(data)
    if not within_bounds_as_text(data):
        _check(value)
    return value


def loads(data: str | bytes) -> object:
    """json.loads, its nesting and encoding failures as refusals."""
    try:
        return json.loads(data)
    except RecursionError:
        raise RefusedMessage(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise RefusedMessage("the body is not UTF-8") from None


def within_bounds_as_text(data: str | bytes) -> bool:
    """True when the JSON text itself shows that its value keeps every bound, so `_check` need not
    walk it (a payment callback's body is a few hundred bytes): no string can be longer than the
    whole text; without a backslash no string holds an escaped character, and a raw control
    character in a string is refused by `json.loads` itself (DEL, which JSON allows, is looked
    for); no value is nested deeper than the text has brackets."""
    if isinstance(data, str):
        return len(data) <= MAX_TEXT and "\\" not in data and "\x7f" not in data and data.count("{") + data.count("[") <= MAX_DEPTH
    return len(data) <= MAX_TEXT and b"\\" not in data and b"\x7f" not in data and data.count(b"{") + data.count(b"[") <= MAX_DEPTH


def _check(root: object) -> None:
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RefusedMessage(f"the JSON is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise RefusedMessage(problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    raise RefusedMessage(problem)
                if not (depth <= 1 and key == "query" and isinstance(item, str)):
                    stack.append((item, depth + 1))
                elif "\x00" in item:
                    raise RefusedMessage("the query contains a NUL character")
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


class TextLiteralRule(ValidationRule):
    """String literals in a document follow the same rule as strings in variables."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        problem = text_problem(node.value)
        if problem:
            self.report_error(GraphQLError(f"refused input: {problem}", node, extensions={"code": ErrorCode.INVALID_INPUT.value}))


def max_body(environ: Any = os.environ) -> int:
    """REBATE_MAX_BODY: bytes, a whole number from 1 (unset or empty: MAX_BODY); ValueError otherwise."""
    limit = whole_number("REBATE_MAX_BODY", "a whole number of bytes from 1", environ, 1)
    return MAX_BODY if limit is None else limit


class BodyLimit:
    """ASGI middleware: an HTTP body above `limit` bytes is answered 413 without being read further."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        text = f"request body larger than {self.limit} bytes".encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]})
        await send({"type": "http.response.body", "body": text})
