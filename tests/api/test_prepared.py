"""Prepared operations (api/prepared.py): the single-order reports without the general executor
answer exactly as the schema does. The same requests go to an app with the prepared path and to
one without it (REBATE_PREPARED=off), each on a fresh database seeded alike; status, media type
and body must be equal, and the prepared path must have run the documents it compiles."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.orders.types import OrderEventPayload, Ticket
from api.view import RebateGraphQL
from services import queries
from tests.api.conftest import ADMIN, GQL, member_token
from tests.api.scenario import paid_order, seed_qr1

PLAIN = "mutation Paid($input: OrderPaidInput!) { reportOrderPaid(input: $input) { ticket { id duplicate } errors { code field message } } }"
ALIASED = """mutation Paid($order: OrderPaidInput!) {
  r: reportOrderPaid(input: $order) { __typename t: ticket { __typename id key type duplicate } errors { __typename code field message } }
}"""
COMPLETED = "mutation($input: OrderCompletedInput!) { reportOrderCompleted(input: $input) { ticket { id key type duplicate } errors { code field message } } }"
REFUNDED = "mutation($input: OrderRefundedInput!) { reportOrderRefunded(input: $input) { ticket { id key type duplicate } errors { code field message } } }"
WITH_STATUS = "mutation($input: OrderPaidInput!) { reportOrderPaid(input: $input) { ticket { id status } errors { code } } }"  # a resolver field: not prepared
TWO_OPERATIONS = PLAIN + "\nmutation Done($input: OrderCompletedInput!) { reportOrderCompleted(input: $input) { ticket { id } } }"
DEFAULTED = 'mutation($input: OrderRefundedInput! = {key: "d1:refund", order: "d1"}) { reportOrderRefunded(input: $input) { ticket { id key } errors { code } } }'

# (document, variables, token, operationName, Accept, prepared?)
CASES: list[tuple[str, Any, str | None, Any, str | None, bool]] = [
    (PLAIN, {"input": paid_order("o1", "A")}, ADMIN, None, None, True),
    (PLAIN, {"input": paid_order("o1", "A")}, ADMIN, "Paid", None, True),  # the same key: the first ticket, duplicate
    (PLAIN, {"input": paid_order("o2", "nobody")}, ADMIN, None, None, True),  # a refused input: errors, no ticket
    (PLAIN, {"input": paid_order("o3", "B", paid="-5.00")}, ADMIN, None, None, True),
    (PLAIN, {"input": {**paid_order("o4", "C"), "channel": "STORE_ONLINE", "store": "S-unknown"}}, ADMIN, None, None, True),
    (ALIASED, {"order": paid_order("o5", "B")}, ADMIN, None, None, True),
    (ALIASED, {"order": paid_order("o5", "B")}, ADMIN, None, "application/graphql-response+json", True),
    (PLAIN, {"input": paid_order("o6", "A")}, None, None, None, True),  # anonymous: UNAUTHENTICATED
    (PLAIN, {"input": paid_order("o6", "A")}, "member", None, None, True),  # a member: FORBIDDEN
    (PLAIN, {"input": paid_order("o6", "A")}, "member", None, "application/graphql-response+json", True),
    (COMPLETED, {"input": {"key": "o1:completed", "order": "o1"}}, ADMIN, None, None, True),
    (REFUNDED, {"input": {"key": "o5:refunded", "order": "o5", "line": 0}}, ADMIN, None, None, True),
    (REFUNDED, {"input": {"key": "o9:refunded", "order": "o9"}}, ADMIN, None, None, True),  # an unknown order
    (DEFAULTED, {}, ADMIN, None, None, True),  # the variable's default
    # variables that do not coerce: nothing runs, the schema answers
    (PLAIN, {"input": {"key": "o7:paid", "order": "o7", "member": "A"}}, ADMIN, None, None, False),
    (PLAIN, {"input": paid_order("o7", "A", paid="abc")}, ADMIN, None, None, True),  # Money refuses it in the resolver (INVALID_INPUT)
    (PLAIN, {"input": {**paid_order("o7", "A"), "extra": 1}}, ADMIN, None, None, False),
    (PLAIN, {}, ADMIN, None, None, False),
    (PLAIN, {"input": None}, ADMIN, None, None, False),
    # documents the prepared path does not compile
    (PLAIN, {"input": paid_order("o8", "A")}, ADMIN, "Other", None, False),
    (PLAIN, {"input": paid_order("o8", "A")}, ADMIN, {"name": "Paid"}, None, False),  # not a string: 400
    (WITH_STATUS, {"input": paid_order("o8", "A")}, ADMIN, None, None, False),
    (TWO_OPERATIONS, {"input": paid_order("o10", "D")}, ADMIN, "Paid", None, False),
    ("mutation($input: OrderPaidInput!) { reportOrderPaid(input: $input) { nope } }", {"input": paid_order("o11", "A")}, ADMIN, None, None, False),
    ("mutation($input: OrderPaidInput!) { reportOrderPaid(input: $input) { ticket { id } ticket { key } } }", {"input": paid_order("o12", "A")}, ADMIN, None, None, False),
]

# bodies as sent (Content-Type, body, prepared?): the HTTP layer's own refusals and variants
RAW_CASES: list[tuple[str, bytes, bool]] = [
    ("application/json; charset=utf-8", json.dumps({"query": PLAIN, "variables": {"input": paid_order("r1", "A")}}).encode(), True),
    ("application/json", json.dumps({"query": PLAIN, "variables": {"input": paid_order("r1", "A")}}).encode(), True),  # a replay of r1
    ("Application/JSON", json.dumps({"query": PLAIN, "variables": {"input": paid_order("r1", "A")}}).encode(), False),  # strawberry: unsupported
    ("text/plain", json.dumps({"query": PLAIN, "variables": {"input": paid_order("r2", "A")}}).encode(), False),  # unsupported: 400
    ("application/json", b'{"query": "mutation', False),  # not JSON: 400
    ("application/json", json.dumps([{"query": PLAIN, "variables": {"input": paid_order("r3", "A")}}]).encode(), False),  # a batch
    ("application/json", json.dumps({"query": PLAIN, "variables": "x"}).encode(), False),  # variables not an object: 400
    ("application/json", json.dumps({"query": PLAIN, "variables": {"input": paid_order("r4", "A")}, "extensions": {}}).encode(), False),
    ("application/json", json.dumps({"query": PLAIN, "variables": {"input": paid_order("r5", "A\u0001")}}).encode(), False),  # refused text: 400
]


def graphql_endpoint(app: Any) -> RebateGraphQL:
    return next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/graphql" and isinstance(r.endpoint, RebateGraphQL))


class Runs:
    """Counts the prepared operations an app executed, and the requests strawberry's view ran."""

    def __init__(self, view: RebateGraphQL) -> None:
        self.count = self.views = 0
        prepared = view.prepared
        run = view.run

        async def viewed(*args: Any, **kwargs: Any) -> Any:
            self.views += 1
            return await run(*args, **kwargs)

        view.run = viewed  # type: ignore[method-assign]
        if prepared is not None:
            execute = prepared.execute

            async def counted(*args: Any) -> Any:
                result = await execute(*args)
                self.count += result is not None
                return result

            prepared.execute = counted  # type: ignore[method-assign]


@pytest.fixture
async def served(env: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`served(prepared)`: an app (with or without the prepared path) on its own fresh database."""

    async def start(prepared: bool, name: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Runs]]:
        monkeypatch.setenv("DATABASE_URL", f"sqlite://{tmp_path}/{name}.sqlite3")
        monkeypatch.setenv("REBATE_PREPARED", "on" if prepared else "off")
        app = create_app(migrate=True)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                await seed_qr1(GQL(http))
                yield app, http, Runs(graphql_endpoint(app))

    return start


async def post(http: httpx.AsyncClient, query: str, variables: Any, token: str | None, operation: Any, accept: str | None) -> tuple[int, str, Any, list[str]]:
    headers = {"Authorization": f"Bearer {member_token('A') if token == 'member' else token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    body: dict[str, Any] = {"query": query, "variables": variables}
    if operation is not None:
        body["operationName"] = operation
    return await post_raw(http, "application/json", json.dumps(body).encode(), headers)


async def post_raw(http: httpx.AsyncClient, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str, Any, list[str]]:
    response = await http.post("/graphql", content=body, headers={**(headers or {}), "Content-Type": content_type})
    try:
        content: Any = response.json()
    except ValueError:
        content = response.text
    assert len(response.headers["x-request-id"]) == 32
    assert int(response.headers["content-length"]) == len(response.content)
    names = [n for n, _ in response.headers.multi_items() if n not in ("x-request-id", "content-type")]
    return response.status_code, response.headers["content-type"], content, names


async def answers(served: Any, prepared: bool, name: str) -> tuple[list[tuple[int, str, Any, list[str]]], list[bool]]:
    out, used = [], []
    async for _app, http, runs in served(prepared, name):
        for query, variables, token, operation, accept, _ in CASES:
            before, views = runs.count, runs.views
            out.append(await post(http, query, variables, token, operation, accept))
            used.append(runs.count > before)
            assert runs.views == views + (not used[-1])  # a prepared operation never reaches strawberry's view
        for content_type, body, _ in RAW_CASES:
            before, views = runs.count, runs.views
            out.append(await post_raw(http, content_type, body, {"Authorization": f"Bearer {ADMIN}"}))
            used.append(runs.count > before)
            assert runs.views == views + (not used[-1])
        assert await queries.is_zero_sum()
    return out, used


async def test_prepared_operations_answer_as_the_schema_does(served: Any) -> None:
    fast, used = await answers(served, True, "prepared")
    slow, unused = await answers(served, False, "schema")
    for case, a, b in zip([*CASES, *RAW_CASES], fast, slow, strict=True):
        assert a == b, case
    assert used == [c[5] for c in CASES] + [c[2] for c in RAW_CASES]  # the prepared path ran exactly the documents it compiles
    assert not any(unused)
    # the answers themselves: a ticket, its duplicate, refusals and denials
    assert fast[0][2] == {"data": {"reportOrderPaid": {"ticket": {"id": "1", "duplicate": False}, "errors": []}}}
    assert fast[1][2]["data"]["reportOrderPaid"]["ticket"] == {"id": "1", "duplicate": True}
    assert fast[2][2]["data"]["reportOrderPaid"] == {"ticket": None, "errors": [{"code": "UNKNOWN_MEMBER", "field": "member", "message": "member nobody does not exist"}]}
    assert fast[5][2]["data"]["r"]["__typename"] == "OrderEventPayload" and fast[5][2]["data"]["r"]["t"]["__typename"] == "Ticket"
    assert fast[6][:2] == (200, "application/graphql-response+json; charset=utf-8")
    assert fast[7][2]["data"] is None and fast[7][2]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert fast[7][2]["errors"][0]["path"] == ["reportOrderPaid"] and fast[7][2]["errors"][0]["locations"] == [{"line": 1, "column": 42}]
    assert fast[8][2]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert fast[13][2]["data"]["reportOrderRefunded"] == {"ticket": None, "errors": [{"code": "UNKNOWN_ORDER"}]}  # the default input ran
    assert fast[15][2]["data"]["reportOrderPaid"]["errors"][0]["code"] == "MALFORMED_DECIMAL"
    assert "errors" in fast[14][2] and fast[14][2].get("data") is None
    raw = fast[len(CASES):]
    assert raw[0][:2] == (200, "application/json") and raw[0][2]["data"]["reportOrderPaid"]["ticket"]["duplicate"] is False
    assert raw[1][2]["data"]["reportOrderPaid"]["ticket"]["duplicate"] is True
    assert raw[2][:3] == raw[3][:3] == (400, "text/plain; charset=utf-8", "Unsupported content type")
    assert raw[4][:3] == (400, "text/plain; charset=utf-8", "Unable to parse request body as JSON")
    assert raw[8][:2] == (400, "text/plain; charset=utf-8") and "control character" in raw[8][2]
    assert fast[0][3] == ["content-length"]  # and the request id; nothing else


async def test_an_unexpected_error_is_masked_and_logged_as_by_the_schema(served: Any, caplog: pytest.LogCaptureFixture) -> None:
    bodies = []
    for prepared in (True, False):
        async for app, http, runs in served(prepared, f"boom-{prepared}"):

            async def boom(*_args: Any) -> Any:
                raise RuntimeError("the database went away")

            app.state.intake.submit = boom
            caplog.clear()
            with caplog.at_level(logging.ERROR, logger="strawberry.execution"):
                bodies.append(await post(http, PLAIN, {"input": paid_order("o1", "A")}, ADMIN, None, None))
            assert runs.count == (1 if prepared else 0)
            assert [r.exc_info[1].args for r in caplog.records if r.exc_info] == [("the database went away",)]
    assert bodies[0] == bodies[1]
    assert bodies[0][2] == {"data": None, "errors": [{"message": "Unexpected error.", "locations": [{"line": 1, "column": 42}], "path": ["reportOrderPaid"]}]}


async def test_a_payload_that_breaks_its_type_is_an_unexpected_error(served: Any, caplog: pytest.LogCaptureFixture) -> None:
    async for _app, http, runs in served(True, "broken"):
        prepared = graphql_endpoint(_app).prepared
        assert prepared is not None

        async def broken(_context: Any, input: Any) -> OrderEventPayload:
            return OrderEventPayload(ticket=Ticket(id=None, key=input.key, type="order.paid", duplicate=False), errors=[])  # type: ignore[arg-type]

        prepared.handlers["reportOrderPaid"] = broken
        with caplog.at_level(logging.ERROR, logger="strawberry.execution"):
            status, _, body, _ = await post(http, PLAIN, {"input": paid_order("o1", "A")}, ADMIN, None, None)
        assert runs.count == 1 and status == 200
        assert body == {"data": None, "errors": [{"message": "Unexpected error.", "locations": [{"line": 1, "column": 42}], "path": ["reportOrderPaid"]}]}
        assert any(r.exc_info and "non-null" in str(r.exc_info[1]) for r in caplog.records)


async def test_the_production_schema_prepares_the_payment_callback(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every extension of the schema is one the prepared path reproduces: adding another turns it
    off, and this fails until api/prepared.py knows what the new one does."""
    for production in ("test", "production"):
        monkeypatch.setenv("REBATE_ENV", production)
        monkeypatch.setenv("REBATE_SECRET", "x" * 40)
        app = create_app()
        prepared = graphql_endpoint(app).prepared
        assert prepared is not None and prepared.enabled
        assert prepared.lookup(PLAIN, None) is not None and prepared.lookup(WITH_STATUS, None) is None
        padded = PLAIN.replace("{ ticket", " " * 2000 + "{ ticket")  # the same operation, too long a text to keep
        assert prepared.lookup(padded, None) is None


async def test_the_context_request_still_reads_the_body(served: Any) -> None:
    """The prepared path has read the body already; the context's request gets it replayed."""
    bodies: list[bytes] = []
    async for app, http, runs in served(True, "body"):
        prepared = graphql_endpoint(app).prepared
        assert prepared is not None

        async def reading(context: Any, input: Any) -> OrderEventPayload:
            bodies.append(await context.request.body())
            return OrderEventPayload(ticket=Ticket(id="7", key=input.key, type="order.paid", duplicate=False), errors=[])  # type: ignore[arg-type]

        prepared.handlers["reportOrderPaid"] = reading
        sent = json.dumps({"query": PLAIN, "variables": {"input": paid_order("b1", "A")}}).encode()
        status, _, body, _ = await post_raw(http, "application/json", sent, {"Authorization": f"Bearer {ADMIN}"})
        assert runs.count == 1 and runs.views == 0 and status == 200
        assert body == {"data": {"reportOrderPaid": {"ticket": {"id": "7", "duplicate": False}, "errors": []}}}
        assert bodies == [sent]
