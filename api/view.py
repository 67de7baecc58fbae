"""The GraphQL endpoint: builds the per-request context and authenticates WebSocket connections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api import graphiql
from api.auth import AuthConfig
from api.context import Context, Loaders


class RebateGraphQL(GraphQL):
    """Only graphql-transport-ws: the legacy graphql-ws protocol is refused (see PITFALLS)."""

    def __init__(self, schema: Any, ide: bool, ws_origins: Sequence[str] = ()) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if ide else None,
            allow_queries_via_get=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=20,
            allowed_origins=ws_origins,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the app's own vendored assets (api/graphiql.py), never from a CDN."""
        return graphiql.render(request)

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
            loaders=Loaders.create(cache=not websocket),
        )

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """The connection_init payload carries {"authorization": "Bearer …"}; without a valid one the socket closes (4403)."""
        params = context.connection_params or {}
        value = params.get("authorization") or params.get("Authorization")
        principal = context.auth.authenticate(value if isinstance(value, str) else None)
        if principal is None:
            raise ConnectionRejectionError({"message": "authentication required"})
        context.principal = principal
        return {"role": principal.role.value}
