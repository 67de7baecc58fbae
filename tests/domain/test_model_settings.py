"""The settings registry (domain/model_settings.py): every model's settings default to off (C-11),
refuse unknown fields with a typed error (C-8) and keep a partial update's other fields."""

from __future__ import annotations

import pytest

from domain.errors import DomainError, ErrorCode
from domain.model_settings import ENTITY_SETTINGS, MODEL_SETTINGS, json_schema


def _switch(name: str) -> str:
    """The flag that turns a model on (the compliance guard's limits always apply; `enforce` refuses)."""
    return "enforce" if name == "compliance" else "enabled"


@pytest.mark.parametrize("name", sorted(MODEL_SETTINGS))
def test_c11_every_model_is_off_until_enabled(name):
    kind = MODEL_SETTINGS[name]
    assert kind.parse({}) == kind() and getattr(kind(), _switch(name)) is False  # type: ignore[call-arg]


@pytest.mark.parametrize("name", sorted(MODEL_SETTINGS))
def test_c8_every_model_refuses_unknown_and_mistyped_fields(name):
    kind = MODEL_SETTINGS[name]
    for values, field in (({"enabeld": True}, "enabeld"), ({_switch(name): "yes"}, _switch(name))):
        with pytest.raises(DomainError) as err:
            kind.parse(values)
        assert (err.value.code, err.value.field) == (ErrorCode.INVALID_SETTINGS, field)
        assert field in err.value.message


@pytest.mark.parametrize("name", sorted(MODEL_SETTINGS))
def test_every_model_keeps_the_fields_a_partial_update_leaves_out(name):
    kind = MODEL_SETTINGS[name]
    base = kind.parse({_switch(name): True})
    assert getattr(kind.parse({}, base=base), _switch(name)) is True


def test_json_schema_names_every_model_and_entity_scope():
    schema = json_schema()
    assert set(schema["properties"]["models"]["properties"]) == set(MODEL_SETTINGS)
    assert set(schema["properties"]["entities"]["properties"]) == set(ENTITY_SETTINGS)
    plugin = schema["$defs"]["PluginSettings"]
    assert plugin["additionalProperties"] is False and plugin["properties"]["reward_ratio"]["default"] == "100"
    assert schema["$defs"]["LotterySettings"]["properties"].keys() == {"mode", "ratios", "min", "max"}


def _refused(parse, values):
    with pytest.raises(DomainError) as err:
        parse(values)
    return err.value


def test_c8_pydantic_errors_keep_the_typed_codes_and_paths():
    from domain.queue_rebate_settings import EntitySettings, PluginSettings

    unknown = _refused(EntitySettings.parse, {"lotery": {}, "enabld": True})
    assert (unknown.code, unknown.field) == (ErrorCode.INVALID_SETTINGS, "queue_rebate.lotery")
    assert unknown.message == "unknown setting(s): queue_rebate.lotery, queue_rebate.enabld"
    choice = _refused(PluginSettings.parse, {"surplus": "NOPE"})
    assert (choice.code, choice.field, choice.message) == (ErrorCode.INVALID_SETTINGS, "surplus", "surplus must be one of PLATFORM, CARRY: 'NOPE'")
    floaty = _refused(PluginSettings.parse, {"lottery": {"mode": "FIXED", "ratios": [0.5]}})
    assert (floaty.code, floaty.field) == (ErrorCode.MALFORMED_DECIMAL, "lottery.ratios[0]")
    assert _refused(PluginSettings.parse, ["enabled"]).code is ErrorCode.INVALID_SETTINGS


def test_null_means_not_set_and_stored_defaults_keep_their_form():
    from domain.queue_rebate_settings import EntitySettings, PluginSettings

    assert EntitySettings.parse({"enabled": None, "lottery": None}) == EntitySettings()
    base = PluginSettings.parse({"reward_ratio": "130"})
    kept = PluginSettings.parse({"paused": None, "enabled": True}, base=base)
    assert kept.enabled and not kept.paused and str(kept.reward_ratio) == "130.0000"
    assert PluginSettings.parse({}).as_values()["exchange_ratio"] == "100"  # defaults are not re-quantized
