"""Who is calling (I-3): server-to-server API keys and HMAC-signed member / merchant tokens.

Environment:
- `REBATE_API_KEYS` — "key1:ADMIN,key2:INTEGRATION" (development default: dev-admin / dev-integration);
- `REBATE_SECRET` — the HMAC-SHA256 key of member (`m.<id>.<expiry>.<sig>`) and merchant
  (`s.<store>.<expiry>.<sig>`) tokens (development default: a fixed dev secret);
- `REBATE_ENV=production` turns both defaults off: no key and no token is accepted unless configured.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

DEV_API_KEYS = "dev-admin:ADMIN,dev-integration:INTEGRATION"
DEV_SECRET = "dev-secret-not-for-production"
MEMBER, MERCHANT = "m", "s"


class Role(StrEnum):
    ADMIN = "ADMIN"
    INTEGRATION = "INTEGRATION"
    MEMBER = "MEMBER"
    MERCHANT = "MERCHANT"


STAFF = frozenset({Role.ADMIN, Role.INTEGRATION})
KEY_ROLES = STAFF


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a staff role, or a member / a store with its id."""

    role: Role
    subject: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def is_member(self, member_id: str | None) -> bool:
        return self.role is Role.MEMBER and member_id is not None and member_id == self.subject

    def owns_store(self, store_id: str | None) -> bool:
        return self.role is Role.MERCHANT and store_id is not None and store_id == self.subject

    def owns_queue(self, queue_id: str | None) -> bool:
        """A merchant's queues are its store's online queue and its cashiers' queue (QR-5)."""
        return self.role is Role.MERCHANT and queue_id in (f"qr:STORE:{self.subject}", f"qr:CASHIER:{self.subject}")


def is_production(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("REBATE_ENV", "development").lower() == "production"


def parse_api_keys(text: str) -> dict[str, Role]:
    """Parse `key1:ADMIN,key2:INTEGRATION` into {key: role}; a malformed entry is a configuration error."""
    keys: dict[str, Role] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        key, sep, role = entry.rpartition(":")
        if not sep or not key or role not in KEY_ROLES:
            raise ValueError(f"REBATE_API_KEYS entry {entry!r} must be KEY:ADMIN or KEY:INTEGRATION")
        keys[key] = Role(role)
    return keys


def token_secret(environ: Mapping[str, str] = os.environ) -> bytes | None:
    secret = environ.get("REBATE_SECRET") or (None if is_production(environ) else DEV_SECRET)
    return secret.encode() if secret else None


def _signature(secret: bytes, kind: str, subject: str, expiry: int) -> str:
    return hmac.new(secret, f"{kind}.{subject}.{expiry}".encode(), hashlib.sha256).hexdigest()


def _sign(kind: str, subject: str, ttl: int | timedelta, secret: bytes | None, now: int | None) -> str:
    secret = secret if secret is not None else token_secret()
    if not secret:
        raise RuntimeError("REBATE_SECRET is not set: cannot sign tokens")
    if not subject or any(c.isspace() for c in subject):
        raise ValueError("a token subject must be a non-empty id without spaces")
    seconds = int(ttl.total_seconds()) if isinstance(ttl, timedelta) else int(ttl)
    expiry = int(now if now is not None else time.time()) + seconds
    return f"{kind}.{subject}.{expiry}.{_signature(secret, kind, subject, expiry)}"


def sign_member_token(member_id: str, ttl: int | timedelta = 3600, *, secret: bytes | None = None, now: int | None = None) -> str:
    """`m.<member_id>.<expiry_unix>.<sig>`: lets a front end read that member's own data."""
    return _sign(MEMBER, member_id, ttl, secret, now)


def sign_merchant_token(store_id: str, ttl: int | timedelta = 3600, *, secret: bytes | None = None, now: int | None = None) -> str:
    """`s.<store_id>.<expiry_unix>.<sig>`: lets a merchant portal read its store's queues."""
    return _sign(MERCHANT, store_id, ttl, secret, now)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    api_keys: Mapping[str, Role]
    secret: bytes | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> AuthConfig:
        keys = environ.get("REBATE_API_KEYS")
        if keys is None and not is_production(environ):
            keys = DEV_API_KEYS
        return cls(parse_api_keys(keys or ""), token_secret(environ))

    def authenticate(self, authorization: str | None, now: int | None = None) -> Principal | None:
        """The caller behind an `Authorization: Bearer …` value, or None (missing, unknown, expired)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return self._api_key(token) or self._signed(token, int(time.time()) if now is None else now)

    def _api_key(self, token: str) -> Principal | None:
        found = None
        for key, role in self.api_keys.items():  # compare with every key, in constant time each
            if hmac.compare_digest(key.encode(), token.encode()):
                found = Principal(role)
        return found

    def _signed(self, token: str, now: int) -> Principal | None:
        kind, _, rest = token.partition(".")
        subject, expiry, signature = [*rest.rsplit(".", 2), "", "", ""][:3]
        if kind not in (MEMBER, MERCHANT) or not self.secret or not subject or not expiry.isdigit():
            return None
        expected = _signature(self.secret, kind, subject, int(expiry))
        if not hmac.compare_digest(expected.encode(), signature.encode()) or int(expiry) < now:
            return None
        return Principal(Role.MEMBER if kind == MEMBER else Role.MERCHANT, subject)
