"""GraphiQL works offline: the page and every asset come from the app, under a CSP with no other origin."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import httpx

from api.app import create_app
from api.graphiql import DEFAULT_QUERY, STATIC

HTML = {"accept": "text/html"}


class Assets(HTMLParser):
    """The URLs a page loads, and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"] or "")
        elif tag == "script":
            self.inline_scripts.append(found)
        elif tag == "link" and found.get("href"):
            self.urls.append(found["href"] or "")


async def test_graphiql_page_and_every_asset_are_served_by_the_app(http):
    page = await http.get("/graphql", headers=HTML)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = Assets()
    assets.feed(page.text)
    assert len(assets.urls) == 8  # react, react-dom, graphiql js + css, explorer js + css, start.js, page.css
    for url in assets.urls:
        assert url.startswith("/graphiql/"), url
        response = await http.get(url)
        assert response.status_code == 200 and len(response.content) > 100, url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in response.headers["content-type"], (url, response.headers["content-type"])
    # the only inline <script> is data, which a CSP never executes
    assert assets.inline_scripts == [{"id": "graphiql-config", "type": "application/json"}]


async def test_graphiql_csp_names_no_other_origin(http):
    csp = (await http.get("/graphql", headers=HTML)).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert not re.search(r"https?:|wss?:|\*|unsafe", csp), csp


def test_vendored_assets_have_their_licenses():
    licenses = {p.name for p in (STATIC / "licenses").iterdir()}
    assert licenses == {"react.LICENSE", "react-dom.LICENSE", "graphiql.LICENSE", "graphiql-plugin-explorer.LICENSE"}
    for name in licenses:
        assert "MIT" in (STATIC / "licenses" / name).read_text()
    # no asset refers to a CDN for something it would load at run time
    assert "unpkg.com" not in (STATIC / "start.js").read_text()
    assert "@import" not in (STATIC / "graphiql.min.css").read_text()


async def test_graphiql_opens_with_a_query_that_runs(http, gql):
    assert page_config((await http.get("/graphql", headers=HTML)).text)["query"] == DEFAULT_QUERY
    data = await gql.data(DEFAULT_QUERY)
    assert data["ledgerCheck"] == {"zeroSum": True}


def page_config(page: str) -> dict[str, str]:
    """The JSON block the page hands to start.js."""
    block = re.search(r'<script id="graphiql-config" type="application/json">(.*?)</script>', page, re.S)
    assert block
    return json.loads(block.group(1))


async def test_graphiql_prefills_the_dev_admin_header_only_with_the_development_keys(http, monkeypatch):
    assert page_config((await http.get("/graphql", headers=HTML)).text)["headers"] == ""  # the test environment sets REBATE_API_KEYS
    monkeypatch.delenv("REBATE_API_KEYS")
    monkeypatch.setenv("REBATE_ENV", "development")
    development = create_app()  # no lifespan needed to render the page
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=development), base_url="http://test") as client:
        config = page_config((await client.get("/graphql", headers=HTML)).text)
    assert json.loads(config["headers"]) == {"Authorization": "Bearer dev-admin"}
    assert config["query"] == DEFAULT_QUERY
