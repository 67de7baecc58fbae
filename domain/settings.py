"""Settings of every model, validated by pydantic (C-8): the field types they share and the one
entry point `parse_settings` that turns a JSON-able mapping into a frozen settings class.

A settings class is a frozen pydantic dataclass: its fields are the single source of the names,
defaults and bounds that the GraphQL settings types, the event files, the docs and
`settings.schema.json` use. A refused value becomes a `DomainError`: a `refusal` carries its
`ErrorCode` (INVALID_RATIO, INVALID_AMOUNT …); whatever pydantic itself refuses (a wrong type, an
unknown or missing field) is INVALID_SETTINGS. The `field` is the dotted path, list items as `[i]`
(`queue_rebate.cumulative_tiers[1].threshold`), and the message starts with it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import ConfigDict, PlainValidator, StrictBool, TypeAdapter, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from domain.errors import DomainError, ErrorCode
from domain.money import parse_amount, parse_ratio

T = TypeVar("T")

SETTINGS_CONFIG = ConfigDict(extra="forbid")
"""Every settings class is `@dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)` (pydantic's):
frozen and hashable, unknown fields refused."""

MAX_DISPLAY_NAME = 32
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_CODES = {code.value for code in ErrorCode}


def refusal(message: str, code: ErrorCode = ErrorCode.INVALID_SETTINGS, at: Sequence[str | int] = ()) -> PydanticCustomError:
    """An error for a validator to raise: `message` follows the field path; `at` is where, below
    the value being validated, the fault lies (a model validator names the field it blames)."""
    return PydanticCustomError(code.value, "{detail}", {"detail": message, "at": tuple(at)})


def checked(parse: Callable[..., T], value: Any, *args: Any, at: Sequence[str | int] = ()) -> T:
    """Run one of domain.money's parsers, its DomainError turned into a `refusal`."""
    try:
        return parse(value, "", *args)
    except DomainError as error:
        raise refusal(error.message.strip(), error.code, at) from None


# --- the field types settings share ------------------------------------------------------------

_RATIO_SCHEMA = {"type": "string", "pattern": r"^\d+(\.\d{1,4})?$", "description": "a percentage (130 = 130 %), at most 4 decimal places"}
_PERCENT_SCHEMA = {**_RATIO_SCHEMA, "description": "a percentage 0..100, at most 4 decimal places"}
_POSITIVE_SCHEMA = {**_RATIO_SCHEMA, "description": "a percentage > 0, at most 4 decimal places"}
_AMOUNT_SCHEMA = {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "description": "an amount, at most 2 decimal places"}


def _positive_ratio(value: Any) -> Decimal:
    ratio = checked(parse_ratio, value)
    if ratio <= 0:
        raise refusal(f"must be greater than 0: {value}", ErrorCode.INVALID_RATIO)
    return ratio


def _integer(minimum: int, maximum: int | None, what: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
            raise refusal(f"must be {what}: {value!r}")
        return value

    return check


def _hhmm(allow_24: bool) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not (_HHMM.match(value) or (allow_24 and value == "24:00")):
            raise refusal(f"must be HH:MM ({'00:00..24:00' if allow_24 else '00:00..23:59'}): {value!r}")
        return value

    return check


def _display_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_DISPLAY_NAME:
        raise refusal(f"must be a non-empty string of at most {MAX_DISPLAY_NAME} characters")
    return value


def _ids(value: Any) -> frozenset[str]:
    if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(v, str) and v for v in value):
        raise refusal("must be a list of ids")
    return frozenset(value)


Flag = StrictBool
Ratio = Annotated[Decimal, PlainValidator(lambda v: checked(parse_ratio, v)), WithJsonSchema(_RATIO_SCHEMA)]
Percent = Annotated[Decimal, PlainValidator(lambda v: checked(parse_ratio, v, Decimal(100))), WithJsonSchema(_PERCENT_SCHEMA)]
"""A ratio of at most 100 % (an extraction, a share of a pool)."""
PositiveRatio = Annotated[Decimal, PlainValidator(_positive_ratio), WithJsonSchema(_POSITIVE_SCHEMA)]
Amount = Annotated[Decimal, PlainValidator(lambda v: checked(parse_amount, v)), WithJsonSchema(_AMOUNT_SCHEMA)]
Count = Annotated[int, PlainValidator(_integer(1, None, "an integer >= 1")), WithJsonSchema({"type": "integer", "minimum": 1})]
Limit = Annotated[int, PlainValidator(_integer(1, None, "a positive integer (or null for no limit)")), WithJsonSchema({"type": "integer", "minimum": 1})]
Weekday = Annotated[int, PlainValidator(_integer(1, 7, "an ISO weekday 1 (Monday) .. 7 (Sunday)")), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 7})]
MonthDay = Annotated[int, PlainValidator(_integer(1, 31, "a day of the month 1..31")), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 31})]
TimeOfDay = Annotated[str, PlainValidator(_hhmm(False)), WithJsonSchema({"type": "string", "pattern": _HHMM.pattern})]
PeriodEnd = Annotated[str, PlainValidator(_hhmm(True)), WithJsonSchema({"type": "string", "pattern": r"^(([01]\d|2[0-3]):([0-5]\d)|24:00)$"})]
DisplayName = Annotated[str, PlainValidator(_display_name), WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_DISPLAY_NAME})]
Ids = Annotated[frozenset[str], PlainValidator(_ids), WithJsonSchema({"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True})]
"""A list of ids (e.g. products that opt out of a model)."""


# --- parsing -----------------------------------------------------------------------------------

_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def adapter(kind: Any) -> TypeAdapter[Any]:
    """The (cached) pydantic adapter of a settings class or type."""
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def parse_settings(kind: type[T], values: Any, name: str = "", base: T | None = None, merge: Sequence[str] = ()) -> T:
    """Validate `values` as a `kind`; `name` is the path errors start with ("queue_rebate").

    A field that is absent or null takes its default, or its value in `base` (a partial update);
    the nested objects named in `merge` are updated field by field over `base`'s, others whole.
    """
    if not isinstance(values, Mapping):
        raise DomainError(ErrorCode.INVALID_SETTINGS, f"{name or 'settings'} must be an object", name or None)
    data = present(values)
    if base is None:
        settings: T = validate(kind, data, name)
        return settings
    given = {k: {**_fields(getattr(base, k)), **v} if k in merge and isinstance(v, Mapping) else v for k, v in data.items()}
    settings = validate(kind, {**_fields(base), **given}, name)
    for key, value in _fields(base).items():
        if key not in given:  # keep base's own value (e.g. Decimal("100"), not its re-parsed "100.0000")
            object.__setattr__(settings, key, value)
    return settings


def validate(kind: Any, value: Any, name: str) -> Any:
    """Validate one value of a settings type (a class, `tuple[Period, ...]` …) or refuse it."""
    try:
        return adapter(kind).validate_python(value)
    except ValidationError as exc:
        raise settings_error(exc, name) from None


def present(value: Any) -> Any:
    """Drop null fields at every depth: null means "not set"."""
    if isinstance(value, Mapping):
        return {k: present(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [present(v) for v in value]
    return value


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else {}


def field_path(name: str, loc: Sequence[str | int]) -> str:
    path = name
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


_UNKNOWN = ("unexpected_keyword_argument", "extra_forbidden")
_PHRASES = {
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "missing": "is required",
    "missing_argument": "is required",
    "dataclass_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
}


def settings_error(exc: ValidationError, name: str = "") -> DomainError:
    """The first error pydantic found, as today's typed DomainError."""
    error = exc.errors(include_url=False)[0]
    ctx = error.get("ctx") or {}
    loc = [part for part in error["loc"] if part != "[key]"] + list(ctx.get("at", ()))
    path = field_path(name, loc)
    kind = error["type"]
    if kind in _CODES:
        return DomainError(ErrorCode(kind), f"{path} {ctx['detail']}".strip(), path or None)
    if kind in _UNKNOWN:
        unknown = [field_path(name, e["loc"]) for e in exc.errors(include_url=False) if e["type"] in _UNKNOWN and e["loc"][:-1] == error["loc"][:-1]]
        return DomainError(ErrorCode.INVALID_SETTINGS, f"unknown setting(s): {', '.join(unknown)}", path)
    if kind == "enum":
        options = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        message = f"must be one of {options}: {error['input']!r}"
    else:
        message = _PHRASES.get(kind, error["msg"])
    return DomainError(ErrorCode.INVALID_SETTINGS, f"{path or name or 'settings'} {message}", path or None)
