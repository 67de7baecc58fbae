"""The ASGI app: `uvicorn api.app:create_app --factory` serves /graphql, /console, /healthz and /metrics."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import console, graphiql
from api.auth import AuthConfig, is_production
from api.limits import BodyLimit, max_body
from api.metrics import set_liability_gauges
from api.operations.resolvers import update_failed_gauge
from api.orders.resolvers import PREPARED, enqueue
from api.prepared import PreparedOperations
from api.request_id import RequestId
from api.schema import MUTATION_NEUTRAL, build_schema, schema
from api.view import RebateGraphQL
from services import group_commit, liabilities, logs
from services.group_commit import GroupCommit
from services.member_reads import MemberReads
from services.metrics import exposition
from services.runtime import StartupError, close_db, freeze_startup_objects, init_db, ping_db, redis_pool, switch

log = logging.getLogger("rebate.api")


def _lifespan(migrate: bool, intake: group_commit.Options | None):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await init_db(migrate=migrate)
        try:
            app.state.redis = await redis_pool()
        except BaseException:
            await close_db()  # else aiosqlite's thread keeps the failed process alive
            raise
        redis = app.state.redis
        app.state.intake = None if intake is None else GroupCommit(lambda queues: enqueue(redis, queues), intake.max_group, intake.max_wait)
        app.state.member_reads = MemberReads()
        freeze_startup_objects()
        try:
            yield
        finally:
            if app.state.intake is not None:
                await app.state.intake.close()
            await app.state.member_reads.close()
            await app.state.redis.aclose()
            await close_db()

    return lifespan


class StartupMessage:
    """A lifespan that fails with StartupError (database or Redis unreachable) reports its one
    line: starlette sends uvicorn the whole traceback as the failure's message, which uvicorn logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def relay(message: Message) -> None:
            failure = sys.exc_info()[1]  # starlette sends the failure from inside its `except`
            if message["type"] == "lifespan.startup.failed" and isinstance(failure, StartupError):
                message = {**message, "message": f"api: {failure}"}
            await send(message)

        await self.app(scope, receive, relay)


def production_refusal(auth: AuthConfig) -> str | None:
    """What production lacks to serve anyone: API keys and a token key (else every request is refused)."""
    missing = [name for name, present in (("REBATE_API_KEYS", bool(auth.api_keys)), ("REBATE_SECRET (or REBATE_JWT_KEYS)", auth.tokens is not None))
               if not present]
    return f"REBATE_ENV=production needs {' and '.join(missing)}: not starting" if missing else None


async def healthz(request: Request) -> JSONResponse:
    """Liveness and readiness. Both answer: 200 "ok". Redis down: 200 "degraded" (events are still
    recorded; settlement resumes when it is back). The database down: 503 "unavailable"."""
    checks = {"database": False, "redis": False}
    try:
        await ping_db()
        checks["database"] = True
    except Exception:  # a failing dependency is reported, not raised
        log.warning("health check: the database does not answer", exc_info=True)
    try:
        checks["redis"] = bool(await request.app.state.redis.ping())
    except Exception:
        log.warning("health check: Redis does not answer")
    status = "ok" if all(checks.values()) else "degraded" if checks["database"] else "unavailable"
    return JSONResponse({"status": status, **checks}, status_code=503 if status == "unavailable" else 200)


async def metrics(request: Request) -> Response:
    """Prometheus: with PROMETHEUS_MULTIPROC_DIR, every API process and worker of the host."""
    try:
        set_liability_gauges(await liabilities.report(datetime.now(UTC)))
    except Exception:  # the database being down must not hide the process metrics
        log.warning("liability gauges not refreshed", exc_info=True)
    try:
        await update_failed_gauge()
    except Exception:  # the database down: the other metrics still render
        log.warning("could not count FAILED inbox items", exc_info=True)
    body, media_type = exposition()
    return Response(body, media_type=media_type)


def create_app(migrate: bool = False) -> Starlette:
    """GraphiQL, introspection and field suggestions are on unless REBATE_ENV=production; `migrate`
    applies pending migrations at startup; REBATE_MAX_BODY bounds request bodies (api/limits.py).
    REBATE_WS_ORIGINS lists the browser origins (e.g. merchant portals) allowed to open the WebSocket."""
    try:
        logs.configure()
    except ValueError as exc:  # REBATE_LOG_FORMAT / REBATE_LOG_LEVEL
        sys.exit(f"api: {exc}: not starting")
    origins = [o.strip() for o in os.environ.get("REBATE_WS_ORIGINS", "").split(",") if o.strip()]
    production = is_production()
    auth = AuthConfig.from_env()
    if production and (refusal := production_refusal(auth)):
        sys.exit(f"api: {refusal}")  # uvicorn's factory loader would print a traceback for an exception
    try:  # a bad value ends the process here with one line (uvicorn's lifespan would print a traceback)
        intake = group_commit.options()
        prepare = switch("REBATE_PREPARED")
        body_limit = max_body()
    except ValueError as exc:
        sys.exit(f"api: {exc}: not starting")
    graphql_schema = build_schema(production=True) if production else schema
    prepared = PreparedOperations(graphql_schema, PREPARED, neutral=MUTATION_NEUTRAL) if prepare else None
    graphql = RebateGraphQL(graphql_schema, ide=not production, ws_origins=origins, prepared=prepared)
    app = Starlette(
        routes=[Route("/graphql", graphql), WebSocketRoute("/graphql", graphql), Route("/healthz", healthz), Route("/metrics", metrics), *graphiql.routes(), *console.routes()],
        middleware=[Middleware(StartupMessage), Middleware(RequestId), Middleware(BodyLimit, limit=body_limit)],
        lifespan=_lifespan(migrate, intake),
    )
    app.state.auth = auth
    return app
