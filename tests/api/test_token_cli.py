"""`rebate token member A --ttl 1h` / `rebate token merchant S1` (I-3): the console script issues
tokens the API accepts, with the environment's active key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jwt

from tests.api.conftest import SECRET
from tests.api.scenario import WALLETS

REBATE = str(Path(sys.executable).parent / "rebate")
NEW = "new-secret-of-at-least-32-bytes!"


def token(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("REBATE_")}
    return subprocess.run([REBATE, "token", *args], capture_output=True, text=True, env={**base, **env}, timeout=60)


def test_rebate_token_member_with_a_ttl_signs_with_the_active_kid():
    done = token("member", "A", "--ttl", "1h", REBATE_JWT_KEYS=f"old:{SECRET},new:{NEW}", REBATE_JWT_ACTIVE_KID="new")
    assert done.returncode == 0, done.stderr
    issued = done.stdout.strip()
    assert jwt.get_unverified_header(issued)["kid"] == "new"
    claims = jwt.decode(issued, NEW, algorithms=["HS256"], audience="member")
    assert claims["sub"] == "A" and abs(claims["exp"] - time.time() - 3600) < 60


def test_rebate_token_refuses_a_bad_kind_a_bad_ttl_and_production_without_keys():
    assert token("admin", "A").returncode == 2
    assert token("member", "A", "--ttl", "soon").returncode == 2
    assert token("merchant", "S1", REBATE_ENV="production").returncode == 2


async def test_an_issued_merchant_token_is_accepted_by_the_api(gql):
    done = token("merchant", "S1", REBATE_SECRET=SECRET)
    assert done.returncode == 0, done.stderr
    body = await gql(WALLETS, {"id": "A"}, token=done.stdout.strip())
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # authenticated as the merchant, not allowed a wallet
