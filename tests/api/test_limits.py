"""api/limits.py: `decode_message` skips walking a value whose JSON text already shows it keeps
every bound (`within_bounds_as_text`); whatever the text, its answer is the full walk's."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.limits import MAX_DEPTH, MAX_TEXT, RefusedMessage, _check, decode_message, loads, within_bounds_as_text

TEXT = st.text(alphabet=st.sampled_from(["a", "é", "中", " ", "\\", '"', "{", "[", "\x00", "\x01", "\t", "\n", "\x1f", "\x7f", "\u2028"]), max_size=40)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | TEXT, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=60)


def walked(data: str | bytes) -> tuple[str, object]:
    """The answer of `decode_message` as it was: json.loads, then the full walk, always."""
    try:
        value = loads(data)
        _check(value)
    except RefusedMessage as exc:
        return "refused", exc.reason
    except json.JSONDecodeError as exc:
        return "undecodable", type(exc).__name__
    return "value", value


def decoded(data: str | bytes) -> tuple[str, object]:
    try:
        value = decode_message(data)
    except RefusedMessage as exc:
        return "refused", exc.reason
    except json.JSONDecodeError as exc:
        return "undecodable", type(exc).__name__
    return "value", value


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@settings(max_examples=400, deadline=None)
@given(JSON, st.booleans(), st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_the_answer_is_the_full_walks_for_any_value(value, ascii_only, as_bytes, encoding):
    text = json.dumps(value, ensure_ascii=ascii_only)
    data = text.encode(encoding) if as_bytes else text
    assert decoded(data) == walked(data)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(['{', '}', '[', ']', '"', ':', ',', "\\", "u", "0", "7", "f", "a", "\x00", "\x7f", " "]), max_size=60), st.booleans())
def test_the_answer_is_the_full_walks_for_any_text(text, as_bytes):
    data = text.encode() if as_bytes else text
    assert decoded(data) == walked(data)


@pytest.mark.parametrize("data", [
    '{"a": "x\\u0000"}', '{"a": "\x7f"}', '{"a": "' + "x" * (MAX_TEXT + 1) + '"}', "{\"a\": " + nested(MAX_DEPTH + 1) + "}", '{"a\\u0001": 1}',
])
def test_texts_that_may_break_a_bound_are_walked(data):
    assert not within_bounds_as_text(data) and not within_bounds_as_text(data.encode())
    assert decoded(data)[0] == "refused"


@pytest.mark.parametrize("as_bytes", [False, True])
def test_the_depth_bound_at_its_edge(as_bytes):
    deepest = "{\"a\": " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "}"  # a scalar MAX_DEPTH containers deep: kept
    deeper = "{\"a\": " + "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH + "}"  # one more: refused
    encode = (lambda t: t.encode()) if as_bytes else (lambda t: t)
    assert within_bounds_as_text(encode(deepest)) and decoded(encode(deepest)) == walked(encode(deepest)) and decoded(encode(deepest))[0] == "value"
    assert not within_bounds_as_text(encode(deeper)) and decoded(encode(deeper)) == walked(encode(deeper)) == ("refused", f"the JSON is nested deeper than {MAX_DEPTH} levels")


def test_a_payment_callback_is_not_walked():
    body = json.dumps({"query": "mutation Paid($input: OrderPaidInput!) { reportOrderPaid(input: $input) { ticket { id duplicate } } }",
                       "variables": {"input": {"key": "k1", "order": "o1", "member": "M1", "lines": [{"product": "P0", "quantity": 1, "paid": "100.00"}]}}})
    assert within_bounds_as_text(body.encode())
    assert decoded(body.encode()) == walked(body.encode())
