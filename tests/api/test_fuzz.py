"""Every generated query and mutation of the whole schema (hypothesis-graphql) gets an answer:
never a 5xx, never a traceback, never a masked "Unexpected error" (a bug) in any response.

Bounded: a fixed number of examples for about 30 s at most on this machine."""

from __future__ import annotations

import time
import warnings
from datetime import UTC
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from api.schema import schema
from tests.api.conftest import ADMIN, INTEGRATION, member_token, merchant_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

DECIMALS = st.one_of(
    st.decimals(min_value=-10**15, max_value=10**15, allow_nan=False, places=2).map(str),
    st.sampled_from(["1e20", "NaN", "Infinity", "１２", "1_000", " 1", "50000000000000000.00", "0", "1000.0001"]),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def _json_node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal (object keys become names k0, k1, …)."""
    if isinstance(value, dict):
        fields = tuple(graphql.ObjectFieldNode(name=graphql.NameNode(value=f"k{i}"), value=_json_node(v)) for i, v in enumerate(value.values()))
        return graphql.ObjectValueNode(fields=fields)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(_json_node(v) for v in value))
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    return graphql.StringValueNode(value=value)


CUSTOM_SCALARS = {
    "Money": DECIMALS.map(nodes.String),
    "Ratio": DECIMALS.map(nodes.String),
    "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12)).map(nodes.String),
    "DateTime": st.one_of(st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), st.text(max_size=20)).map(nodes.String),
    "JSON": JSON_VALUES.map(_json_node),
}
CALLERS = st.sampled_from(["admin", "integration", "member", "merchant", "none"])
SDL = schema.as_str()


def _token(kind: str) -> str | None:
    return {"admin": ADMIN, "integration": INTEGRATION, "member": member_token("A"), "merchant": merchant_token("S1"), "none": None}[kind]


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory):
    from api.app import create_app

    mp = pytest.MonkeyPatch()
    from tests.api import conftest

    mp.setenv("DATABASE_URL", f"sqlite://{tmp_path_factory.mktemp('fuzz')}/fuzz.sqlite3")
    mp.setenv("REDIS_URL", conftest.TEST_REDIS_URL)
    mp.setenv("REBATE_ENV", "test")
    mp.setenv("REBATE_API_KEYS", f"{ADMIN}:ADMIN,{INTEGRATION}:INTEGRATION")
    mp.setenv("REBATE_SECRET", conftest.SECRET)
    with TestClient(create_app(migrate=True), raise_server_exceptions=False) as client:
        yield client
    mp.undo()
    print(f"fuzz: {BUDGET['sent']} documents sent")


BUDGET = {"deadline": 0.0, "sent": 0}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(document=from_schema(SDL, custom_scalars=CUSTOM_SCALARS, allow_x00=False), caller=CALLERS)
def test_fuzzed_documents_never_crash(fuzz_client, document: str, caller: str):
    if not BUDGET["deadline"]:
        BUDGET["deadline"] = time.monotonic() + 30
    if time.monotonic() > BUDGET["deadline"]:
        return  # the time bound: the rest of the examples are skipped
    BUDGET["sent"] += 1
    token = _token(caller)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = fuzz_client.post("/graphql", json={"query": document}, headers=headers)
    assert response.status_code < 500, (document, response.text)
    assert "Traceback" not in response.text and "Unexpected error" not in response.text, (document, response.text)
