"""Member and merchant tokens (I-3): standard JWTs (HS256) with `sub`, `aud`, `iat`, `exp` and a key id.

Issued by the ops CLI (`rebate token member A --ttl 1h`) or a front end's back end, verified by the
API on HTTP and WebSocket alike. Keys rotate without downtime: every configured key verifies, the
active one signs.

Environment:
- `REBATE_JWT_KEYS` — "kid1:secret1,kid2:secret2" (each secret at least 32 bytes);
- `REBATE_JWT_ACTIVE_KID` — the kid that signs (optional with a single key);
- else `REBATE_SECRET` as the one key (kid `default`); outside production a fixed development key.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import jwt

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key is at least as long as the hash
DEV_SECRET = "dev-secret-not-for-production-use-only"
DEFAULT_KID = "default"
DEV_KID = "dev"
MAX_SUBJECT = 128
_SUBJECT = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces: ids of members and stores
_TTL = re.compile(r"([0-9]{1,9})([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Audience(StrEnum):
    """Who a token speaks for: a member (its own data) or a merchant (its store's queues)."""

    MEMBER = "member"
    MERCHANT = "merchant"


@dataclass(frozen=True, slots=True)
class Claims:
    audience: Audience
    subject: str
    expires_at: int


def _is_production(environ: Mapping[str, str]) -> bool:
    return environ.get("REBATE_ENV", "development").lower() == "production"


def parse_ttl(text: str) -> int:
    """`90`, `90s`, `15m`, `1h`, `7d` → seconds (at least 1)."""
    match = _TTL.fullmatch(text.strip())
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"a ttl is a positive number of seconds, or with a unit s, m, h, d (e.g. 1h): {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """The verification keys by kid and the kid of the signing key."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"REBATE_JWT_ACTIVE_KID {self.active!r} is not one of REBATE_JWT_KEYS")
        for kid, secret in self.keys.items():
            if len(secret) < MIN_SECRET_BYTES:
                raise ValueError(f"the token key {kid!r} must be at least {MIN_SECRET_BYTES} bytes")

    @classmethod
    def single(cls, secret: str | bytes, kid: str = DEFAULT_KID) -> TokenKeys:
        return cls({kid: secret.encode() if isinstance(secret, str) else secret}, kid)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TokenKeys | None:
        """The configured keys; None in production when none is configured (no token is then accepted)."""
        listed = environ.get("REBATE_JWT_KEYS", "").strip()
        if listed:
            keys = parse_keys(listed)
            active = environ.get("REBATE_JWT_ACTIVE_KID") or (next(iter(keys)) if len(keys) == 1 else "")
            if not active:
                raise ValueError("REBATE_JWT_ACTIVE_KID must name the signing key when REBATE_JWT_KEYS lists several")
            return cls(keys, active)
        if environ.get("REBATE_SECRET"):
            return cls.single(environ["REBATE_SECRET"])
        return None if _is_production(environ) else cls.single(DEV_SECRET, DEV_KID)

    def issue(self, audience: Audience, subject: str, ttl: int, now: float | None = None) -> str:
        """A token for `subject` valid `ttl` seconds from `now`, signed with the active key."""
        if not _SUBJECT.fullmatch(subject):
            raise ValueError(f"a token subject is an id of 1..{MAX_SUBJECT} printable ASCII characters without spaces")
        if ttl < 1:
            raise ValueError("a token's ttl must be at least 1 second")
        issued = int(time.time() if now is None else now)
        claims = {"sub": subject, "aud": audience.value, "iat": issued, "exp": issued + int(ttl)}
        return jwt.encode(claims, self.keys[self.active], algorithm=ALGORITHM, headers={"kid": self.active})

    def verify(self, token: str, now: float | None = None) -> Claims | None:
        """The claims of a token signed by a known key, for a known audience and not expired at `now`; else None."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            secret = self.keys.get(kid) if isinstance(kid, str) else None
            if secret is None:
                return None
            # exp is checked below against `now` (the caller's clock), after the signature.
            claims = jwt.decode(
                token, secret, algorithms=[ALGORITHM], audience=[a.value for a in Audience],
                options={"require": ["sub", "aud", "exp"], "verify_exp": False},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        audience, subject, expiry = claims.get("aud"), claims.get("sub"), claims.get("exp")
        if audience not in tuple(Audience) or not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
            return None
        if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry <= (time.time() if now is None else now):
            return None
        return Claims(Audience(audience), subject, expiry)


def parse_keys(text: str) -> dict[str, bytes]:
    """Parse `kid1:secret1,kid2:secret2`; a malformed entry is a configuration error."""
    keys: dict[str, bytes] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        kid, sep, secret = entry.partition(":")
        if not sep or not kid or not secret:
            raise ValueError(f"REBATE_JWT_KEYS entry {kid or entry[:8]!r}… must be KID:SECRET")
        keys[kid] = secret.encode()
    return keys


def issue_token(audience: Audience, subject: str, ttl: int, environ: Mapping[str, str] = os.environ) -> str:
    """Issue a token with the environment's active key (the `rebate token` command)."""
    keys = TokenKeys.from_env(environ)
    if keys is None:
        raise RuntimeError("no token key is configured: set REBATE_JWT_KEYS (or REBATE_SECRET)")
    return keys.issue(audience, subject, ttl)
