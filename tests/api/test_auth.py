"""I-3: API keys and signed member / merchant tokens; out-of-scope reads are FORBIDDEN."""

from __future__ import annotations

import time

import pytest

from api.auth import DEV_API_KEYS, AuthConfig, Principal, Role, sign_member_token, sign_merchant_token
from api.permissions import CanWatchPayouts
from tests.api.conftest import INTEGRATION, SECRET
from tests.api.scenario import ENTITLEMENTS, UPSERT_MEMBER, UPSERT_STORE, WALLETS, ok, seed_qr1

KEY = SECRET.encode()


def member_token(member: str, ttl: int = 600) -> str:
    return sign_member_token(member, ttl, secret=KEY)


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_no_token_is_unauthenticated(gql):
    body = await gql(WALLETS, {"id": "A"}, token=None)
    assert body["data"] == {"member": None} and code(body) == "UNAUTHENTICATED"


@pytest.mark.parametrize("token", ["nope", "m.A.9999999999.deadbeef", sign_member_token("A", -5, secret=KEY), sign_member_token("A", 600, secret=b"other")])
async def test_unknown_tampered_or_expired_tokens_are_unauthenticated(gql, token):
    assert code(await gql(WALLETS, {"id": "A"}, token=token)) == "UNAUTHENTICATED"


async def test_member_reads_only_its_own_wallets_and_entitlements(gql):
    await seed_qr1(gql)
    own = await gql.data(WALLETS, {"id": "A"}, token=member_token("A"))
    assert own["member"]["wallets"]["cash"] == "0.00"
    other = await gql(WALLETS, {"id": "B"}, token=member_token("A"))
    assert other["data"] == {"member": None} and code(other) == "FORBIDDEN"
    assert code(await gql(ENTITLEMENTS, {"member": "B"}, token=member_token("A"))) == "FORBIDDEN"
    assert code(await gql(ENTITLEMENTS, {"queue": "qr:MALL"}, token=member_token("A"))) == "FORBIDDEN"
    ledger = "query($m: ID!) { ledger(member: $m) { items { id } } }"
    assert code(await gql(ledger, {"m": "B"}, token=member_token("A"))) == "FORBIDDEN"
    assert (await gql.data(ledger, {"m": "A"}, token=member_token("A")))["ledger"]["items"] == []


async def test_members_and_merchants_cannot_mutate(gql):
    variables = {"input": {"id": "X"}}
    assert code(await gql(UPSERT_MEMBER, variables, token=member_token("A"))) == "FORBIDDEN"
    assert code(await gql(UPSERT_MEMBER, variables, token=sign_merchant_token("S1", secret=KEY))) == "FORBIDDEN"
    assert code(await gql(UPSERT_MEMBER, variables, token=None)) == "UNAUTHENTICATED"
    assert (await ok(gql, UPSERT_MEMBER, "upsertMember", variables))["member"]["id"] == "X"


async def test_integration_key_mutates_but_ledger_check_is_admin_only(gql):
    payload = (await gql.data(UPSERT_MEMBER, {"input": {"id": "I1"}}, token=INTEGRATION))["upsertMember"]
    assert payload["errors"] == []
    assert code(await gql("{ ledgerCheck { zeroSum } }", token=INTEGRATION)) == "FORBIDDEN"


async def test_merchant_sees_only_its_store_queues(gql):
    await seed_qr1(gql)
    for store in ("S1", "S2"):
        await ok(gql, UPSERT_STORE, "upsertStore", {"input": {"id": store}})
    await ok(
        gql,
        "mutation($i: ProductInput!) { upsertProduct(input: $i) { errors { code } } }",
        "upsertProduct",
        {"i": {"id": "SP1", "source": "STORE", "store": "S1"}},
    )
    paid = "mutation($i: OrderPaidInput!) { reportOrderPaid(input: $i) { errors { code field } } }"
    line = [{"product": "SP1", "paid": "50.00"}]
    await ok(gql, paid, "reportOrderPaid", {"i": {"key": "s1", "order": "s1", "member": "A", "channel": "STORE_ONLINE", "store": "S1", "lines": line}})
    await ok(gql, paid, "reportOrderPaid", {"i": {"key": "m1", "order": "m1", "member": "A", "lines": [{"product": "P1", "paid": "50.00"}]}})
    merchant = sign_merchant_token("S1", secret=KEY)
    queues = await gql.data("{ queues { id } }", token=merchant)
    assert queues == {"queues": [{"id": "qr:STORE:S1"}]}
    progress = "query($q: String!) { queueProgress(queue: $q) { queue { id } } }"
    assert (await gql.data(progress, {"q": "qr:STORE:S1"}, token=merchant))["queueProgress"]["queue"]["id"] == "qr:STORE:S1"
    assert code(await gql(progress, {"q": "qr:MALL"}, token=merchant)) == "FORBIDDEN"
    assert code(await gql(progress, {"q": "qr:STORE:S1"}, token=sign_merchant_token("S2", secret=KEY))) == "FORBIDDEN"
    assert code(await gql(WALLETS, {"id": "A"}, token=merchant)) == "FORBIDDEN"
    assert code(await gql("{ queues { id } }", token=member_token("A"))) == "FORBIDDEN"


def test_tokens_round_trip_and_carry_their_subject():
    config = AuthConfig({}, KEY)
    now = time.time()
    assert config.authenticate(f"Bearer {sign_member_token('a.b', 60, secret=KEY, now=now)}", now) == Principal(Role.MEMBER, "a.b")
    assert config.authenticate(f"bearer {sign_merchant_token('S1', 60, secret=KEY, now=now)}", now) == Principal(Role.MERCHANT, "S1")
    assert config.authenticate(f"Bearer {sign_member_token('A', 60, secret=KEY, now=now)}", now + 61) is None
    assert config.authenticate("Basic abc", now) is None and config.authenticate(None, now) is None


def test_env_defaults_only_outside_production():
    dev = AuthConfig.from_env({"REBATE_ENV": "development"})
    assert dev.authenticate("Bearer dev-admin") == Principal(Role.ADMIN) and dev.secret
    assert DEV_API_KEYS.startswith("dev-admin:")
    prod = AuthConfig.from_env({"REBATE_ENV": "production"})
    assert prod.api_keys == {} and prod.secret is None and prod.authenticate("Bearer dev-admin") is None
    keys = AuthConfig.from_env({"REBATE_ENV": "production", "REBATE_API_KEYS": "k:1:ADMIN, k2:INTEGRATION"}).api_keys
    assert keys == {"k:1": Role.ADMIN, "k2": Role.INTEGRATION}
    with pytest.raises(ValueError):
        AuthConfig.from_env({"REBATE_API_KEYS": "k:ROOT"})


def test_production_without_a_secret_cannot_sign(monkeypatch):
    monkeypatch.setenv("REBATE_ENV", "production")
    monkeypatch.delenv("REBATE_SECRET", raising=False)
    with pytest.raises(RuntimeError):
        sign_member_token("A")


@pytest.mark.parametrize(
    ("principal", "args", "allowed"),
    [
        (Principal(Role.MERCHANT, "S1"), {"store": "S1"}, True),
        (Principal(Role.MERCHANT, "S1"), {"queue": "qr:CASHIER:S1"}, True),
        (Principal(Role.MERCHANT, "S1"), {"store": "S2"}, False),
        (Principal(Role.MERCHANT, "S1"), {"queue": "qr:MALL"}, False),
        (Principal(Role.MERCHANT, "S1"), {"member": "A"}, False),
        (Principal(Role.MEMBER, "A"), {"member": "A"}, True),
        (Principal(Role.MEMBER, "A"), {"member": "B"}, False),
        (Principal(Role.MEMBER, "A"), {"queue": "qr:MALL"}, False),
        (Principal(Role.INTEGRATION), {"queue": "qr:MALL"}, True),
    ],
)
def test_who_may_watch_which_payouts(principal, args, allowed):
    assert CanWatchPayouts().allows(principal, args) is allowed
