"""Who is calling (I-3): server-to-server API keys and member / merchant JWTs (services/tokens.py).

Environment:
- `REBATE_API_KEYS` — "key1:ADMIN,key2:INTEGRATION" (development default: dev-admin / dev-integration);
- `REBATE_JWT_KEYS`, `REBATE_JWT_ACTIVE_KID` (or `REBATE_SECRET`) — the token keys, see services/tokens.py;
- `REBATE_ENV=production` turns both defaults off: no key and no token is accepted unless configured.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from services.tokens import Audience, TokenKeys

DEV_API_KEYS = "dev-admin:ADMIN,dev-integration:INTEGRATION"
MAX_CREDENTIAL = 4096  # an Authorization value longer than this is refused unread


class Role(StrEnum):
    ADMIN = "ADMIN"
    INTEGRATION = "INTEGRATION"
    MEMBER = "MEMBER"
    MERCHANT = "MERCHANT"


STAFF = frozenset({Role.ADMIN, Role.INTEGRATION})
KEY_ROLES = STAFF


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a staff role, or a member / a store with its id and its token's expiry."""

    role: Role
    subject: str | None = None
    expires_at: int | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def is_member(self, member_id: str | None) -> bool:
        return self.role is Role.MEMBER and member_id is not None and member_id == self.subject

    def owns_store(self, store_id: str | None) -> bool:
        return self.role is Role.MERCHANT and store_id is not None and store_id == self.subject

    @property
    def merchant_queues(self) -> frozenset[str]:
        """A merchant's queues are its store's online queue and its cashiers' queue (QR-5); none for other callers."""
        return frozenset((f"qr:STORE:{self.subject}", f"qr:CASHIER:{self.subject}")) if self.role is Role.MERCHANT else frozenset()

    def owns_queue(self, queue_id: str | None) -> bool:
        return queue_id in self.merchant_queues


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


@dataclass(frozen=True, slots=True)
class AuthConfig:
    api_keys: Mapping[str, Role]
    tokens: TokenKeys | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> AuthConfig:
        keys = environ.get("REBATE_API_KEYS")
        if keys is None and not is_production(environ):
            keys = DEV_API_KEYS
        return cls(parse_api_keys(keys or ""), TokenKeys.from_env(environ))

    def authenticate(self, authorization: str | None, now: float | None = None) -> Principal | None:
        """The caller behind an `Authorization: Bearer …` value, or None (missing, unknown, expired)."""
        if not authorization or len(authorization) > MAX_CREDENTIAL:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return self._api_key(token) or self._token(token, time.time() if now is None else now)

    def _api_key(self, token: str) -> Principal | None:
        found = None
        given = token.encode("utf-8", "surrogatepass")
        for key, role in self.api_keys.items():  # compare with every key, in constant time each
            if hmac.compare_digest(key.encode(), given):
                found = Principal(role)
        return found

    def _token(self, token: str, now: float) -> Principal | None:
        claims = self.tokens.verify(token, now) if self.tokens is not None else None
        if claims is None:
            return None
        role = Role.MEMBER if claims.audience is Audience.MEMBER else Role.MERCHANT
        return Principal(role, claims.subject, claims.expires_at)
