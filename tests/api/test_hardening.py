"""Requests that once crashed the API or leaked a stack trace: each gets a 400 or a typed GraphQL error."""

from __future__ import annotations

import json
import logging

import pytest

from tests.api.conftest import ADMIN, member_token
from tests.api.scenario import ENTITLEMENTS, UPSERT_MEMBER, WALLETS, seed_qr1

TRACEBACK = "Traceback (most recent call last)"


async def post_raw(http, body: bytes | str, token: str | None = ADMIN, content_type: str = "application/json"):
    headers = {"content-type": content_type}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await http.post("/graphql", content=body, headers=headers)


def assert_clean(response) -> None:
    assert response.status_code < 500, response.text
    assert TRACEBACK not in response.text and "File \"" not in response.text


def error_code(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["errors"][0]["extensions"]["code"]


@pytest.mark.parametrize("body", ['"hello"', "5", "null", "[]", "true", "[1, 2]", "{", ""])
async def test_a_body_that_is_not_a_json_object_is_a_400(http, body):
    response = await post_raw(http, body)
    assert_clean(response)
    assert response.status_code == 400


async def test_variables_nested_5000_deep_are_a_400(http, caplog):
    deep = "[" * 5000 + "]" * 5000
    body = '{"query": "query($v: JSON!) { __typename }", "variables": {"v": ' + deep + "}}"
    with caplog.at_level(logging.DEBUG):
        response = await post_raw(http, body)
    assert_clean(response)
    assert response.status_code == 400 and "nested" in response.text
    assert "RecursionError" not in caplog.text


async def test_an_object_nested_deep_in_a_json_argument_is_refused(http):
    value: object = 1
    for _ in range(200):
        value = {"a": value}
    body = json.dumps({"query": "mutation($v: JSON!) { setSettings(model: \"queue_rebate\", values: $v) { errors { code } } }", "variables": {"v": value}})
    response = await post_raw(http, body)
    assert_clean(response)
    assert response.status_code == 400


@pytest.mark.parametrize("authorization", ["Bearer m.A.².abc", "Bearer m.A.9" + "9" * 30 + ".abc", "Bearer \x00", "Bearer a.b.c", "Bearer " + "x" * 10_000])
async def test_malformed_bearer_values_are_unauthenticated(http, authorization):
    response = await http.post("/graphql", json={"query": WALLETS, "variables": {"id": "A"}}, headers={"authorization": authorization.encode()})
    assert_clean(response)
    assert error_code(response) == "UNAUTHENTICATED"


@pytest.mark.parametrize("cursor", [str(2**63), "9" * 40, "١٢", "１２", "-1", "1e3", " 1"])
async def test_cursors_above_2_63_or_of_unicode_digits_are_invalid_input(gql, cursor):
    await seed_qr1(gql)
    for query, variables in (
        (ENTITLEMENTS, {"queue": "qr:MALL", "after": cursor}),
        (ENTITLEMENTS, {"member": "A", "after": f"qr:MALL@{cursor}"}),
        ("query($m: ID!, $a: String) { ledger(member: $m, after: $a) { items { id } } }", {"m": "A", "a": cursor}),
        ("query($q: String!, $a: String) { queueProgress(queue: $q, after: $a) { queue { id } } }", {"q": "qr:MALL", "a": cursor}),
    ):
        body = await gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", (query, body)


@pytest.mark.parametrize("ticket", [str(2**63), "9" * 40, "١٢", "0x10"])
async def test_ticket_ids_above_2_63_or_of_unicode_digits_are_not_found(gql, ticket):
    body = await gql("query($id: ID!) { ticket(id: $id) { id } }", {"id": ticket})
    assert body.get("errors") is None and body["data"] == {"ticket": None}


@pytest.mark.parametrize("member", ["A\x00", "\x00", "A\x00B"])
async def test_nul_bytes_in_ids_are_refused(http, gql, member):
    await seed_qr1(gql)
    for query, variables in ((WALLETS, {"id": member}), (UPSERT_MEMBER, {"input": {"id": member}})):
        response = await http.post("/graphql", json={"query": query, "variables": variables}, headers={"authorization": f"Bearer {ADMIN}"})
        assert_clean(response)
        assert response.status_code == 400 or error_code(response) == "INVALID_INPUT"
    literal = await http.post("/graphql", json={"query": '{ member(id: "A\\u0000") { id } }'}, headers={"authorization": f"Bearer {ADMIN}"})
    assert_clean(literal)
    assert error_code(literal) == "INVALID_INPUT"


async def test_a_100000_character_name_is_refused_and_not_logged_whole(http, caplog):
    name = "N" * 100_000
    with caplog.at_level(logging.DEBUG):
        for variables in ({"input": {"id": "X", "nickname": name}}, {"input": {"id": name}}):
            response = await http.post("/graphql", json={"query": UPSERT_MEMBER, "variables": variables}, headers={"authorization": f"Bearer {ADMIN}"})
            assert_clean(response)
            assert response.status_code == 400 or error_code(response) == "INVALID_INPUT"
    assert name not in caplog.text and "N" * 1000 not in response.text


@pytest.mark.parametrize(("field", "length"), [("nickname", 129), ("avatar", 513), ("phone", 33), ("level", 65)])
async def test_profile_fields_longer_than_their_columns_are_invalid_input(gql, field, length):
    payload = (await gql.data(UPSERT_MEMBER, {"input": {"id": "X", field: "n" * length}}))["upsertMember"]
    assert payload["member"] is None and [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", field)]


async def test_a_request_body_above_the_limit_is_a_413(http):
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 2_000_000}})
    response = await post_raw(http, body)
    assert response.status_code == 413


async def test_an_expired_member_token_is_refused_on_http(gql):
    expired = member_token("A", 3, now=__import__("time").time() - 4)
    body = await gql(WALLETS, {"id": "A"}, token=expired)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_introspection_and_field_suggestions_are_off_in_production(env, monkeypatch):
    import httpx

    from api.app import create_app

    async def ask(app, query: str) -> dict:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            response = await client.post("/graphql", json={"query": query}, headers={"authorization": f"Bearer {ADMIN}"})
        assert response.status_code == 200, response.text
        return response.json()

    development = create_app()
    assert (await ask(development, "{ __schema { queryType { name } } }"))["data"]["__schema"]["queryType"]["name"] == "Query"
    assert "Did you mean" in (await ask(development, "{ ledgerChek { zeroSum } }"))["errors"][0]["message"]
    monkeypatch.setenv("REBATE_ENV", "production")
    production = create_app()
    refused = await ask(production, "{ __schema { queryType { name } } }")
    assert refused.get("data") is None and "introspection" in refused["errors"][0]["message"].lower()
    assert "Did you mean" not in (await ask(production, "{ ledgerChek { zeroSum } }"))["errors"][0]["message"]
    assert "Did you mean" not in json.dumps(await ask(production, '{ member(id: "A") { walets { cash } } }'))
