"""The GraphQL endpoint: builds the per-request context and authenticates WebSocket connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import process_result
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET

from api import graphiql
from api.auth import AuthConfig
from api.context import Context
from api.limits import RefusedMessage, decode_message
from api.media import GRAPHQL_RESPONSE, prefers_graphql_response
from api.prepared import PreparedOperations


class RebateGraphQL(GraphQL):
    """Only graphql-transport-ws: the legacy graphql-ws protocol is refused (see PITFALLS)."""

    def __init__(self, schema: Any, ide: bool, ws_origins: Sequence[str] = (), prepared: PreparedOperations | None = None) -> None:
        self.prepared = prepared
        super().__init__(
            schema,
            graphql_ide="graphiql" if ide else None,
            allow_queries_via_get=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=20,
            allowed_origins=ws_origins,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POSTed JSON body that is a prepared operation is answered by `_prepared_response`,
        around strawberry's request handling; every other request, and a prepared one whose
        variables do not coerce (nothing ran), goes through it with the body replayed."""
        if self.prepared is not None and scope["type"] == "http" and scope["method"] == "POST":
            messages, body = await _buffered(receive)
            if body is not None:
                try:
                    response = await self._prepared_response(scope, body, _replayed(messages, receive))
                except HTTPException as e:  # as strawberry's own __call__ answers it
                    response = PlainTextResponse(e.reason, status_code=e.status_code)
                if response is not None:
                    await response(scope, receive, send)
                    return
            receive = _replayed(messages, receive)
        await super().__call__(scope, receive, send)

    async def _prepared_response(self, scope: Scope, body: bytes, receive: Receive) -> Response | None:
        """The response strawberry's view would build for a prepared operation (the same context,
        result processing and `create_response`, the media type of `run`), without its request
        adapter, content-type parsing and per-request dispatch; None: not one (the view answers)."""
        assert self.prepared is not None
        headers = Headers(scope=scope)
        if headers.get("content-type", "").partition(";")[0].strip() != "application/json":
            return None  # strawberry's own test is case-sensitive: another spelling is the view's to refuse
        try:
            data = self.decode_json(body)
        except json.JSONDecodeError:  # refused or unreadable: the view answers 400 naming why
            return None
        if not isinstance(data, dict):
            return None
        query, name, variables = data.get("query"), data.get("operationName"), data.get("variables")
        if not isinstance(query, str) or not isinstance(name, str | None) or not isinstance(variables, dict | None) or data.get("extensions") is not None:
            return None
        prepared = self.prepared.lookup(query, name)
        if prepared is None:
            return None
        request = Request(scope, receive)  # the context's request can still read the body
        sub_response = await self.get_sub_response(request)
        result = await self.prepared.execute(prepared, variables, await self.get_context(request, sub_response))
        if result is None:
            return None
        payload = process_result(result)
        if result.errors:
            self._handle_errors(result.errors, payload)
        response = self.create_response(response_data=payload, sub_response=sub_response)
        if prefers_graphql_response(headers.get("accept")):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
        return response

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """HTTP responses in the media type the client accepts (api/media.py)."""
        response = await super().run(request, context, root_value)
        if isinstance(request, Request) and isinstance(response, Response) and getattr(request.state, "graphql_response", False):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            if getattr(request.state, "graphql_not_executed", False) and response.status_code == 200:
                response.status_code = 400  # the document did not parse or validate: nothing ran
        return response

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any, context: Any, root_value: Any, request_data: Any) -> ExecutionResult:  # type: ignore[override]
        """A POSTed document the prepared operations compiled runs there (api/prepared.py); every
        other request, and one whose variables do not coerce, through the schema."""
        plain = isinstance(request_data.query, str) and isinstance(request_data.operation_name, str | None) and request_data.extensions is None
        if self.prepared is not None and request_adapter.method == "POST" and plain:
            prepared = self.prepared.lookup(request_data.query, request_data.operation_name)
            if prepared is not None:
                result = await self.prepared.execute(prepared, request_data.variables, context)
                if result is not None:
                    return result
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:  # type: ignore[override]
        data = await super().process_result(request, result)
        if prefers_graphql_response(request.headers.get("accept")):
            request.state.graphql_response = True
            if isinstance(result, PreExecutionError):
                request.state.graphql_not_executed = True
                data.pop("data", None)
        return data

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the app's own vendored assets (api/graphiql.py), never from a CDN."""
        return graphiql.render(request)

    def decode_json(self, data: str | bytes) -> object:
        """Every JSON message (HTTP bodies and WebSocket messages) within api/limits.py's bounds."""
        return decode_message(data)

    def parse_json(self, data: str | bytes) -> Any:
        """An HTTP body: a JSON object within the bounds, else 400 naming the rule."""
        try:
            value = self.decode_json(data)
        except RefusedMessage as refused:
            raise HTTPException(400, refused.reason) from None
        except json.JSONDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(value, dict):
            raise HTTPException(400, "the request body must be a JSON object with a query")
        return value

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        auth: AuthConfig = request.app.state.auth
        websocket = isinstance(request, WebSocket)
        principal = None if websocket else auth.authenticate(request.headers.get("authorization"))
        return Context(
            request=request,
            response=response,
            auth=auth,
            redis=getattr(request.app.state, "redis", None),
            principal=principal,
            cache=not websocket,
            intake=getattr(request.app.state, "intake", None),
            member_reads=getattr(request.app.state, "member_reads", None),
        )

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """The connection_init payload carries {"authorization": "Bearer …"}; without a valid one the socket closes (4403)."""
        params = context.connection_params or {}
        value = params.get("authorization") or params.get("Authorization")
        principal = context.auth.authenticate(value if isinstance(value, str) else None)
        if principal is None:
            raise ConnectionRejectionError({"message": "authentication required"})
        context.principal = principal
        if principal.expires_at is not None:
            _close_on_expiry(context.request, principal.expires_at)
        return {"role": principal.role.value}


async def _buffered(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The request's messages up to its last body part, and the body; None: the client went away first."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replayed(messages: list[Message], receive: Receive) -> Receive:
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


EXPIRED_CLOSE_CODE = 4403
_WATCH_STEP = 30.0  # seconds: how often a long-lived connection's watcher looks whether it is still open
_watchers: set[asyncio.Task[None]] = set()


def _close_on_expiry(websocket: WebSocket, expires_at: int) -> None:
    """A token's connection closes (4403) when the token expires; its subscriptions end with it."""
    task = asyncio.get_running_loop().create_task(_expire(websocket, expires_at))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


async def _expire(websocket: WebSocket, expires_at: int) -> None:
    while (left := expires_at - time.time()) > 0:
        if websocket.application_state is WebSocketState.DISCONNECTED:
            return
        await asyncio.sleep(min(left, _WATCH_STEP))
    if websocket.application_state is not WebSocketState.DISCONNECTED and websocket.client_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=EXPIRED_CLOSE_CODE, reason="token expired")
