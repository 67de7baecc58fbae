"""The ASGI shell: health, metrics, GraphiQL, transport rules and the safety extensions."""

from __future__ import annotations

import logging

import httpx

from api.app import create_app
from api.schema import LIMIT_RULES
from services import queries
from tests.api.conftest import ADMIN


async def test_healthz_and_metrics(http, gql):
    assert (await http.get("/healthz")).json() == {"status": "ok", "database": True, "redis": True}
    await gql.data("{ pools { name } }")
    metrics = (await http.get("/metrics")).text
    assert 'rebate_graphql_operation_seconds_count{type="query"}' in metrics


async def test_graphiql_in_development_only(http, env, monkeypatch):
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "GraphiQL" in page.text
    monkeypatch.setenv("REBATE_ENV", "production")
    production = create_app()  # no lifespan needed to render (or refuse) the IDE
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=production), base_url="http://test") as client:
        assert (await client.get("/graphql", headers={"accept": "text/html"})).status_code == 404


async def test_queries_via_get_and_subscriptions_via_post_are_refused(http):
    headers = {"Authorization": f"Bearer {ADMIN}"}
    assert (await http.get("/graphql", params={"query": "{ pools { name } }"}, headers=headers)).status_code == 400
    post = await http.post("/graphql", json={"query": 'subscription { payouts(member: "A") { amount } }'}, headers=headers)
    assert post.status_code == 400 and "subscriptions are not allowed" in post.text


async def test_unexpected_errors_are_masked_and_logged(gql, monkeypatch, caplog):
    async def broken() -> dict:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(queries, "pools", broken)
    with caplog.at_level(logging.ERROR):
        body = await gql("{ pools { name } }")
    assert body["errors"][0]["message"] == "Unexpected error." and "secret" not in str(body)
    assert "secret detail" in caplog.text


async def test_expected_errors_are_neither_masked_nor_logged(gql, caplog):
    with caplog.at_level(logging.ERROR):
        body = await gql('{ member(id: "A") { id } }', token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" and caplog.text == ""


async def test_depth_aliases_and_tokens_are_limited(gql):
    aliases = "{ " + " ".join(f"p{i}: pools {{ name }}" for i in range(31)) + " }"
    assert "aliases" in (await gql(aliases))["errors"][0]["message"]
    tokens = "{ " + " ".join("pools { name }" for _ in range(700)) + " }"
    assert "token" in (await gql(tokens))["errors"][0]["message"].lower()
    # no type nests deeper than 10 yet (introspection is exempt), so check the depth rule is in place
    assert [r.__name__ for r in LIMIT_RULES] == ["DepthLimitValidator", "MaxAliasesValidator", "TextLiteralRule"]
