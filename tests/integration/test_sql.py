"""store.sql writes `?` placeholders once for both databases: a `?` inside a string literal or a
quoted identifier is text, not a parameter."""

import pytest

from store import db
from store.sql import fetch

pytestmark = pytest.mark.usefixtures("db")


async def test_a_question_mark_in_a_string_literal_is_not_a_placeholder():
    rows = await fetch(db.default(), "SELECT 'why?' AS asked, ? AS first, 'it''s ?' AS quoted, ? AS second", ["a", "b"])
    assert rows == [{"asked": "why?", "first": "a", "quoted": "it's ?", "second": "b"}]


async def test_a_question_mark_in_a_quoted_identifier_is_not_a_placeholder():
    rows = await fetch(db.default(), 'SELECT ? AS "who?", ? AS plain', ["a", "b"])
    assert rows == [{"who?": "a", "plain": "b"}]
