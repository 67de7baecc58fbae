"""C-8 through GraphQL: each bad input is a typed payload error and writes nothing."""

from __future__ import annotations

import pytest

from store.models import Event, Member, ModelSettings, Order, Product
from tests.api.scenario import ORDER_PAID, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, ok, paid_order, seed_qr1


async def counts() -> dict[str, int]:
    return {m.__name__: await m.all().count() for m in (Event, Member, Order, Product)}


async def refused(gql, mutation: str, name: str, variables: dict) -> dict:
    """Run a mutation that must be refused without writing; returns its single error."""
    before = await counts()
    payload = (await gql.data(mutation, variables))[name]
    assert await counts() == before
    [error] = payload["errors"]
    return error


BAD_AMOUNTS = [("-1.00", "NEGATIVE_AMOUNT"), ("12.345", "INVALID_AMOUNT"), ("abc", "MALFORMED_DECIMAL"), ("NaN", "INVALID_AMOUNT")]


@pytest.mark.parametrize(("paid", "expected"), BAD_AMOUNTS)
async def test_bad_amounts_are_refused_with_their_field(gql, paid, expected):
    await seed_qr1(gql)
    error = await refused(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o1", "A", paid=paid)})
    assert (error["code"], error["field"]) == (expected, "lines.0.paid")
    assert paid in error["message"]


async def test_unknown_member_is_refused(gql):
    await seed_qr1(gql)
    error = await refused(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o1", "NOBODY")})
    assert (error["code"], error["field"]) == ("UNKNOWN_MEMBER", "member")


async def test_referrer_cycle_is_refused(gql):
    await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": "A"}})
    await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": "B", "referrer": "A"}})
    error = await refused(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": "A", "referrer": "B"}})
    assert (error["code"], error["field"]) == ("REFERRER_CYCLE", "referrer")
    assert (await Member.get(id="A")).referrer_id is None


async def test_extraction_ratio_over_100_is_refused(gql):
    product = {"id": "P9", "source": "SELF_OPERATED", "queueRebate": {"extractionRatio": "101"}}
    error = await refused(gql, UPSERT_PRODUCT, "upsertProduct", {"input": product})
    assert (error["code"], error["field"]) == ("INVALID_RATIO", "queueRebate.extractionRatio")


async def test_bad_settings_are_refused_whole(gql):
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {"enabled": True}})
    error = await refused(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {"enabled": False, "extraction_ratio": "101"}})
    assert (error["code"], error["field"]) == ("INVALID_RATIO", "values.extraction_ratio")
    assert (await ModelSettings.get(model="queue_rebate")).values == {"enabled": True}
    unknown = await refused(gql, SET_SETTINGS, "setSettings", {"model": "nope", "values": {}})
    assert (unknown["code"], unknown["field"]) == ("UNKNOWN_MODEL", "model")


async def test_same_key_with_other_content_is_an_idempotency_conflict(gql):
    await seed_qr1(gql)
    await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o1", "A")})
    error = await refused(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o1", "A", paid="99.00")})
    assert (error["code"], error["field"]) == ("IDEMPOTENCY_CONFLICT", "key")


async def test_a_json_number_for_money_is_refused_before_anything_runs(gql):
    await seed_qr1(gql)
    before = await counts()
    variables = {"input": {**paid_order("o1", "A"), "lines": [{"product": "P1", "paid": 100.5}]}}
    body = await gql(ORDER_PAID, variables)
    assert body.get("data") is None and "Money must be a decimal string" in body["errors"][0]["message"]
    literal = await gql('mutation { reportOrderPaid(input: {key: "k", order: "o", member: "A", lines: [{product: "P1", paid: 100}]}) { errors { code } } }')
    assert "Money must be a decimal string" in literal["errors"][0]["message"]
    assert await counts() == before


async def test_bulk_events_must_be_objects(gql):
    bulk = "mutation($e: [JSON!]!) { reportOrders(events: $e) { results { ticket { id } errors { code field } } } }"
    results = (await gql.data(bulk, {"e": [1, {"type": "nope", "key": "k"}]}))["reportOrders"]["results"]
    assert [r["errors"] for r in results] == [[{"code": "INVALID_INPUT", "field": "events.0"}], [{"code": "INVALID_INPUT", "field": "events.1.type"}]]
    assert await Event.all().count() == 0


INTAKE_REFUSALS = [
    ({"paid": "50000000000000000.00"}, "INVALID_AMOUNT", "lines.0.paid"),
    ({"paid": "1e20"}, "INVALID_AMOUNT", "lines.0.paid"),
    ({"paid": "Infinity"}, "INVALID_AMOUNT", "lines.0.paid"),
    ({"paid": "１００.００"}, "INVALID_AMOUNT", "lines.0.paid"),
    ({"paid": "1_000.00"}, "INVALID_AMOUNT", "lines.0.paid"),
    ({"paid": " 100.00"}, "INVALID_AMOUNT", "lines.0.paid"),
    ({"paid": "100.001"}, "INVALID_AMOUNT", "lines.0.paid"),
    ({"deduction": "1e3"}, "INVALID_AMOUNT", "lines.0.deduction"),
    ({"deduction": "100.01"}, "INVALID_AMOUNT", "lines.0.deduction"),
    ({"quantity": 2**40}, "INVALID_INPUT", "lines.0.quantity"),
]


def _order_with(line: dict) -> dict:
    order = paid_order("o1", "A")
    order["lines"] = [{**order["lines"][0], **line}]
    return order


@pytest.mark.parametrize(("line", "expected", "field"), INTAKE_REFUSALS[:-1])  # a GraphQL Int is 32 bits already
async def test_c8_intake_bounds_refuse_the_order_and_write_nothing(gql, line, expected, field):
    await seed_qr1(gql)
    error = await refused(gql, ORDER_PAID, "reportOrderPaid", {"input": _order_with(line)})
    assert (error["code"], error["field"]) == (expected, field)


@pytest.mark.parametrize(("line", "expected", "field"), INTAKE_REFUSALS)
async def test_c8_bulk_intake_bounds_refuse_the_event_and_write_nothing(gql, line, expected, field):
    await seed_qr1(gql)
    before = await counts()
    bulk = "mutation($e: [JSON!]!) { reportOrders(events: $e) { results { ticket { id } errors { code field } } } }"
    results = (await gql.data(bulk, {"e": [{"type": "order.paid", **_order_with(line)}]}))["reportOrders"]["results"]
    assert results == [{"ticket": None, "errors": [{"code": expected, "field": f"events.0.{field}"}]}]
    assert await counts() == before


async def test_c8_a_ratio_above_1000_percent_is_refused_in_settings(gql):
    error = await refused(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {"enabled": True, "reward_ratio": "1000.01"}})
    assert (error["code"], error["field"]) == ("INVALID_RATIO", "values.reward_ratio")
    product = {"id": "P9", "source": "SELF_OPERATED", "queueRebate": {"rewardRatio": "1e3"}}
    error = await refused(gql, UPSERT_PRODUCT, "upsertProduct", {"input": product})
    assert (error["code"], error["field"]) == ("INVALID_RATIO", "queueRebate.rewardRatio")


async def test_c8_a_refund_of_a_line_above_2_63_is_refused(gql):
    await seed_qr1(gql)
    await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o1", "A")})
    bulk = "mutation($e: [JSON!]!) { reportOrders(events: $e) { results { ticket { id } errors { code field } } } }"
    event = {"type": "order.refunded", "key": "o1:refunded", "order": "o1", "line": 2**64}
    results = (await gql.data(bulk, {"e": [event]}))["reportOrders"]["results"]
    assert results == [{"ticket": None, "errors": [{"code": "INVALID_INPUT", "field": "events.0.line"}]}]
