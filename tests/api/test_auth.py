"""I-3: API keys and member / merchant JWTs; out-of-scope reads are FORBIDDEN."""

from __future__ import annotations

import time

import jwt
import pytest

from api.auth import DEV_API_KEYS, AuthConfig, Principal, Role
from api.permissions import CanWatchPayouts
from services.tokens import Audience, TokenKeys, issue_token, parse_ttl
from store.models import Event
from tests.api.conftest import INTEGRATION, KEYS, SECRET, member_token, merchant_token
from tests.api.scenario import ENTITLEMENTS, UPSERT_MEMBER, UPSERT_STORE, WALLETS, ok, seed_qr1

OTHER = TokenKeys.single("another-secret-of-at-least-32-bytes")


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_no_token_is_unauthenticated(gql):
    body = await gql(WALLETS, {"id": "A"}, token=None)
    assert body["data"] == {"member": None} and code(body) == "UNAUTHENTICATED"


def _forged(claims: dict, secret: str = SECRET, **headers: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "default", **headers})


FAR = int(time.time()) + 3600
BAD_TOKENS = [
    "nope",
    "m.A.9999999999.deadbeef",
    "m.A.².abc",
    member_token("A", 1, now=time.time() - 10),
    OTHER.issue(Audience.MEMBER, "A", 600),
    member_token("A")[:-2] + "xx",
    _forged({"sub": "A", "aud": "member", "exp": FAR}, kid="unknown"),
    _forged({"sub": "A", "aud": "admin", "exp": FAR}),
    _forged({"sub": "A", "exp": FAR}),
    _forged({"sub": "A", "aud": "member"}),
    _forged({"aud": "member", "exp": FAR}),
    jwt.encode({"sub": "A", "aud": "member", "exp": FAR}, "", algorithm="none", headers={"kid": "default"}),
]


@pytest.mark.parametrize("token", BAD_TOKENS)
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
    assert code(await gql(UPSERT_MEMBER, variables, token=merchant_token("S1"))) == "FORBIDDEN"
    assert code(await gql(UPSERT_MEMBER, variables, token=None)) == "UNAUTHENTICATED"
    assert (await ok(gql, UPSERT_MEMBER, "upsertMember", variables))["member"]["id"] == "X"


async def test_only_staff_keys_report_orders(gql):
    """The single-order reports check IsStaff in their resolvers: the same errors, nothing recorded."""
    await seed_qr1(gql)
    before = await Event.all().count()
    reports = {
        "reportOrderPaid": ("OrderPaidInput", {"key": "p1", "order": "o1", "member": "A", "lines": [{"product": "P1", "paid": "50.00"}]}),
        "reportOrderCompleted": ("OrderCompletedInput", {"key": "c1", "order": "o1"}),
        "reportOrderRefunded": ("OrderRefundedInput", {"key": "r1", "order": "o1"}),
    }
    for name, (kind, variables) in reports.items():
        mutation = f"mutation($i: {kind}!) {{ {name}(input: $i) {{ ticket {{ id }} errors {{ code }} }} }}"
        for token, expected in ((member_token("A"), "FORBIDDEN"), (merchant_token("S1"), "FORBIDDEN"), (None, "UNAUTHENTICATED")):
            body = await gql(mutation, {"i": variables}, token=token)
            assert (code(body), body["data"]) == (expected, None), (name, body)
    assert await Event.all().count() == before
    for name, (kind, variables) in reports.items():
        mutation = f"mutation($i: {kind}!) {{ {name}(input: $i) {{ ticket {{ id }} errors {{ code }} }} }}"
        assert (await gql.data(mutation, {"i": variables}, token=INTEGRATION))[name]["errors"] == []
    assert await Event.all().count() == before + 3


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
    merchant = merchant_token("S1")
    queues = await gql.data("{ queues { id } }", token=merchant)
    assert queues == {"queues": [{"id": "qr:STORE:S1"}]}
    progress = "query($q: String!) { queueProgress(queue: $q) { queue { id } } }"
    assert (await gql.data(progress, {"q": "qr:STORE:S1"}, token=merchant))["queueProgress"]["queue"]["id"] == "qr:STORE:S1"
    assert code(await gql(progress, {"q": "qr:MALL"}, token=merchant)) == "FORBIDDEN"
    assert code(await gql(progress, {"q": "qr:STORE:S1"}, token=merchant_token("S2"))) == "FORBIDDEN"
    assert code(await gql(WALLETS, {"id": "A"}, token=merchant)) == "FORBIDDEN"
    assert code(await gql("{ queues { id } }", token=member_token("A"))) == "FORBIDDEN"


def test_tokens_are_jwts_that_round_trip_and_carry_their_subject():
    config = AuthConfig({}, KEYS)
    now = time.time()
    token = member_token("a.b", 60, now=now)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "default", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="member")
    assert (claims["sub"], claims["aud"], claims["exp"]) == ("a.b", "member", int(now) + 60)
    assert config.authenticate(f"Bearer {token}", now) == Principal(Role.MEMBER, "a.b", int(now) + 60)
    assert config.authenticate(f"bearer {merchant_token('S1', 60, now=now)}", now) == Principal(Role.MERCHANT, "S1", int(now) + 60)
    assert config.authenticate(f"Bearer {token}", int(now) + 60) is None
    assert config.authenticate("Basic abc", now) is None and config.authenticate(None, now) is None
    assert config.authenticate("Bearer " + "x" * 100_000, now) is None


def test_keys_rotate_old_and_new_verify_only_the_active_signs():
    old_secret, new_secret = "old-secret-of-at-least-32-bytes!", "new-secret-of-at-least-32-bytes!"
    before = TokenKeys.from_env({"REBATE_JWT_KEYS": f"k1:{old_secret}"})
    during = TokenKeys.from_env({"REBATE_JWT_KEYS": f"k1:{old_secret},k2:{new_secret}", "REBATE_JWT_ACTIVE_KID": "k2"})
    after = TokenKeys.from_env({"REBATE_JWT_KEYS": f"k2:{new_secret}"})
    assert before is not None and during is not None and after is not None
    old_token, new_token = before.issue(Audience.MEMBER, "A", 600), during.issue(Audience.MEMBER, "A", 600)
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    assert during.verify(old_token) is not None and during.verify(new_token) is not None
    assert after.verify(old_token) is None and after.verify(new_token) is not None
    with pytest.raises(ValueError, match="ACTIVE_KID"):
        TokenKeys.from_env({"REBATE_JWT_KEYS": f"k1:{old_secret},k2:{new_secret}"})
    with pytest.raises(ValueError, match="ACTIVE_KID"):
        TokenKeys.from_env({"REBATE_JWT_KEYS": f"k1:{old_secret}", "REBATE_JWT_ACTIVE_KID": "k9"})
    with pytest.raises(ValueError, match="32 bytes"):
        TokenKeys.from_env({"REBATE_JWT_KEYS": "k1:short"})


def test_rebate_secret_is_the_single_key_and_ttls_parse():
    keys = TokenKeys.from_env({"REBATE_SECRET": SECRET})
    assert keys == KEYS
    assert KEYS.verify(issue_token(Audience.MERCHANT, "S1", 60, {"REBATE_SECRET": SECRET})) is not None
    assert [parse_ttl(t) for t in ("90", "90s", "15m", "1h", "7d")] == [90, 90, 900, 3600, 604800]
    for bad in ("0", "-1", "1w", "1.5h", ""):
        with pytest.raises(ValueError):
            parse_ttl(bad)
    with pytest.raises(ValueError):
        KEYS.issue(Audience.MEMBER, "has space", 60)


def test_env_defaults_only_outside_production():
    dev = AuthConfig.from_env({"REBATE_ENV": "development"})
    assert dev.authenticate("Bearer dev-admin") == Principal(Role.ADMIN) and dev.tokens
    assert DEV_API_KEYS.startswith("dev-admin:")
    prod = AuthConfig.from_env({"REBATE_ENV": "production"})
    assert prod.api_keys == {} and prod.tokens is None and prod.authenticate("Bearer dev-admin") is None
    keys = AuthConfig.from_env({"REBATE_ENV": "production", "REBATE_API_KEYS": "k:1:ADMIN, k2:INTEGRATION"}).api_keys
    assert keys == {"k:1": Role.ADMIN, "k2": Role.INTEGRATION}
    with pytest.raises(ValueError):
        AuthConfig.from_env({"REBATE_API_KEYS": "k:ROOT"})


def test_production_without_a_key_cannot_issue():
    with pytest.raises(RuntimeError):
        issue_token(Audience.MEMBER, "A", 60, {"REBATE_ENV": "production"})


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
