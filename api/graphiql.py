"""The GraphiQL page at /graphql, served with no CDN: its assets are vendored and pinned in
api/static/graphiql/ (versions and licenses in its README) and mounted at /graphiql/. The page
carries no inline script, so it runs under a Content-Security-Policy that names no other origin.
In development it opens with a first query and, while the development keys are on, the
`Authorization: Bearer dev-admin` header filled in."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "graphiql"
ASSETS = "/graphiql"
DEV_ADMIN_KEY = "dev-admin"

# 'self' covers the same-origin WebSocket of subscriptions; data: is for the fonts and icons
# GraphiQL's stylesheet embeds.
CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])

DEFAULT_QUERY = """# The rebate engine's API. Ctrl-Enter runs a query; Ctrl-Space completes.
# The headers tab below carries the caller's key (development: Bearer dev-admin).

query Overview {
  queues { id model head tail pool }
  pools { name balance }
  ledgerCheck { zeroSum }
}
"""

SCRIPTS = ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "plugin-explorer.umd.js", "start.js"]
STYLES = ["graphiql.min.css", "plugin-explorer.css", "page.css"]


def routes() -> list[BaseRoute]:
    """The static assets, to add to the app's routes next to /graphql."""
    return [Mount(ASSETS, app=StaticFiles(directory=STATIC), name="graphiql")]


def page_config(request: Request) -> dict[str, str]:
    """The query and headers the page opens with: the admin header only while the development keys are on."""
    api_keys = getattr(getattr(request.app.state, "auth", None), "api_keys", None) or {}
    headers = {"Authorization": f"Bearer {DEV_ADMIN_KEY}"} if DEV_ADMIN_KEY in api_keys else {}
    return {"query": DEFAULT_QUERY, "headers": json.dumps(headers, indent=2) if headers else ""}


def render(request: Request) -> HTMLResponse:
    """The GraphiQL page with its CSP header."""
    config = json.dumps(page_config(request)).replace("<", "\\u003c")  # cannot close the <script> block
    styles = "\n".join(f'    <link rel="stylesheet" href="{ASSETS}/{name}">' for name in STYLES)
    scripts = "\n".join(f'    <script src="{ASSETS}/{name}"></script>' for name in SCRIPTS)
    html = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Rebate engine · GraphiQL</title>
{styles}
  </head>
  <body>
    <div id="graphiql">Loading…</div>
    <script id="graphiql-config" type="application/json">{config}</script>
{scripts}
  </body>
</html>
"""
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})
