"""The operations and merchant console at /console: static ES modules (api/static/console/, the
libraries vendored and pinned in its vendor/ with their licenses), no build step, no CDN. The
page speaks only to the app's own GraphQL API (queries over HTTP, the `payouts` subscription over
graphql-transport-ws) with the credential the user signs in with, so the API's scopes (I-3)
decide what it shows. Its one inline script is the import map, allowed by its sha256 in the CSP."""

from __future__ import annotations

import base64
import hashlib
import json

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api import graphiql

STATIC = graphiql.STATIC.parent / "console"
ASSETS = "/console/assets"
PATH = "/console"

IMPORTS = {
    "preact": f"{ASSETS}/vendor/preact.mjs",
    "preact/hooks": f"{ASSETS}/vendor/preact-hooks.mjs",
    "htm": f"{ASSETS}/vendor/htm.mjs",
    "uplot": f"{ASSETS}/vendor/uPlot.esm.js",
    "graphql-ws": f"{ASSETS}/vendor/graphql-ws/client.js",
}
IMPORT_MAP = json.dumps({"imports": IMPORTS}, indent=2)
IMPORT_MAP_HASH = "sha256-" + base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()

CSP = "; ".join(f"script-src 'self' '{IMPORT_MAP_HASH}'" if d.startswith("script-src") else d for d in graphiql.CSP.split("; "))

PAGE = f"""<!doctype html>
<html lang="zh-CN">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>返利引擎控制台 · Rebate console</title>
    <link rel="stylesheet" href="{ASSETS}/vendor/uPlot.min.css">
    <link rel="stylesheet" href="{ASSETS}/console.css">
    <script type="importmap">{IMPORT_MAP}</script>
    <script type="module" src="{ASSETS}/app.js"></script>
  </head>
  <body>
    <div id="app"><p class="loading" role="status">加载中 · Loading…</p></div>
    <noscript>控制台需要 JavaScript · The console needs JavaScript.</noscript>
  </body>
</html>
"""


async def page(request: Request) -> HTMLResponse:
    """The console's one page (its views are client-side, under #/…), with its CSP header."""
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


def routes() -> list[BaseRoute]:
    """The page and its static files, to add to the app's routes."""
    return [Route(PATH, page), Mount(ASSETS, app=StaticFiles(directory=STATIC), name="console")]
