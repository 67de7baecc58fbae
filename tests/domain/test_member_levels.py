"""会员等级 member levels (M-2): a configured list of names and ranks."""

import pytest

from domain.errors import DomainError, ErrorCode
from domain.member_levels import MemberLevel, MemberLevelSettings

LEVELS = {"enabled": True, "levels": [{"name": "gold", "rank": 30}, {"name": "bronze", "rank": 10}, {"name": "silver", "rank": 20}]}


def test_m2_levels_are_kept_in_rank_order_and_round_trip():
    s = MemberLevelSettings.parse(LEVELS)
    assert s.levels == (MemberLevel("bronze", 10), MemberLevel("silver", 20), MemberLevel("gold", 30))
    assert s.names == ("bronze", "silver", "gold") and MemberLevelSettings.parse(s.as_values()) == s


@pytest.mark.parametrize(("levels", "field"), [
    ([{"name": "gold", "rank": 1}, {"name": "gold", "rank": 2}], "levels[1].name"),
    ([{"name": "gold", "rank": 1}, {"name": "silver", "rank": 1}], "levels[1].rank"),
    ([{"name": "", "rank": 1}], "levels[0].name"),
    ([{"name": "gold", "rank": -1}], "levels[0].rank"),
    ([{"name": "gold"}], "levels[0].rank"),
])
def test_m2_bad_levels_are_refused_with_the_field(levels, field):
    with pytest.raises(DomainError) as err:
        MemberLevelSettings.parse({"levels": levels})
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID_SETTINGS, field)


def test_m2_a_members_level_must_be_a_configured_one_once_enabled():
    s = MemberLevelSettings.parse(LEVELS)
    assert s.check("silver") == "silver" and s.check(None) is None
    with pytest.raises(DomainError) as err:
        s.check("platinum")
    assert (err.value.code, err.value.field) == (ErrorCode.UNKNOWN_MEMBER_LEVEL, "level")
    assert MemberLevelSettings().check("platinum") == "platinum"  # off: any name, as before
