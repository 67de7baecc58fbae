"""The ASGI app: `uvicorn api.app:create_app --factory` serves /graphql, /healthz and /metrics."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from api import graphiql
from api.auth import AuthConfig, is_production
from api.limits import BodyLimit, max_body
from api.request_id import RequestId
from api.schema import build_schema, schema
from api.view import RebateGraphQL
from services import logs
from services.metrics import exposition
from services.runtime import close_db, init_db, ping_db, redis_pool

log = logging.getLogger("rebate.api")


def _lifespan(migrate: bool):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await init_db(migrate=migrate)
        app.state.redis = await redis_pool()
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await close_db()

    return lifespan


async def healthz(request: Request) -> JSONResponse:
    """Liveness and readiness: the database answers and Redis answers."""
    checks = {"database": False, "redis": False}
    try:
        await ping_db()
        checks["database"] = True
        checks["redis"] = bool(await request.app.state.redis.ping())
    except Exception:  # a failing dependency is reported, not raised
        log.warning("health check failed", exc_info=True)
    ok = all(checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    """Prometheus: with PROMETHEUS_MULTIPROC_DIR, every API process and worker of the host."""
    body, media_type = exposition()
    return Response(body, media_type=media_type)


def create_app(migrate: bool = False) -> Starlette:
    """GraphiQL, introspection and field suggestions are on unless REBATE_ENV=production; `migrate`
    applies pending migrations at startup; REBATE_MAX_BODY bounds request bodies (api/limits.py).
    REBATE_WS_ORIGINS lists the browser origins (e.g. merchant portals) allowed to open the WebSocket."""
    logs.configure()
    origins = [o.strip() for o in os.environ.get("REBATE_WS_ORIGINS", "").split(",") if o.strip()]
    production = is_production()
    graphql = RebateGraphQL(build_schema(production=True) if production else schema, ide=not production, ws_origins=origins)
    app = Starlette(
        routes=[Route("/graphql", graphql), WebSocketRoute("/graphql", graphql), Route("/healthz", healthz), Route("/metrics", metrics), *graphiql.routes()],
        middleware=[Middleware(RequestId), Middleware(BodyLimit, limit=max_body())],
        lifespan=_lifespan(migrate),
    )
    app.state.auth = AuthConfig.from_env()
    return app
