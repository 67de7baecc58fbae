"""Database tables. Money is integer fen (*_fen BigInt columns), never a text-compared decimal."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Member(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    phone = fields.CharField(max_length=32, null=True, unique=True)
    nickname = fields.CharField(max_length=128, null=True)
    avatar = fields.CharField(max_length=512, null=True)
    level = fields.CharField(max_length=64, null=True)
    referrer_id = fields.CharField(max_length=64, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member"


class Store(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=128, null=True)
    recruiter_id = fields.CharField(max_length=64, null=True)
    queue_rebate = fields.JSONField(default=dict)
    region = fields.CharField(max_length=128, null=True)  # "province/city/district" (DR-5)

    class Meta:
        table = "store"


class Cashier(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    store_id = fields.CharField(max_length=64, db_index=True)
    queue_rebate = fields.JSONField(default=dict)

    class Meta:
        table = "cashier"


class Product(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    source = fields.CharField(max_length=16)
    store_id = fields.CharField(max_length=64, null=True)
    listed = fields.BooleanField(default=True)
    queue_rebate = fields.JSONField(default=dict)

    class Meta:
        table = "product"


class ModelSettings(Model):
    """A model's platform settings, version grows with every accepted change."""

    model = fields.CharField(max_length=32, primary_key=True)
    values = fields.JSONField(default=dict)
    version = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "model_settings"


class Event(Model):
    """An accepted input event (C-6), the source of truth the workers settle, whose id is the ticket."""

    id = fields.BigIntField(primary_key=True)
    scope = fields.CharField(max_length=72, default="", db_default="")  # whose key: "" the platform's, "member:<id>" a member's
    key = fields.CharField(max_length=200)  # unique within its scope: the caller's own idempotency key
    digest = fields.CharField(max_length=64)
    type = fields.CharField(max_length=48)
    payload = fields.JSONField()
    occurred_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event"
        unique_together = (("scope", "key"),)


class InboxItem(Model):
    """One event's work for one queue, a queue's items are settled in id order (C-7)."""

    id = fields.BigIntField(primary_key=True)
    queue_id = fields.CharField(max_length=96)
    event_id = fields.BigIntField(db_index=True)
    status = fields.CharField(max_length=12, default="PENDING")
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    attempts = fields.IntField(default=0)  # batches that began at this item without finishing it (services/settlement.py)
    failed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inbox_item"
        indexes = (("queue_id", "status", "id"), ("status", "id"))


class Queue(Model):
    """A queue / pool: its head pointer, tail, carried pool and fencing version (C-7)."""

    id = fields.CharField(max_length=96, primary_key=True)
    model = fields.CharField(max_length=32)
    head = fields.BigIntField(default=1)
    tail = fields.BigIntField(default=0)
    pool_fen = fields.BigIntField(default=0)
    version = fields.BigIntField(default=0)
    state = fields.JSONField(default=dict)  # model-specific counters (random-return group, ...)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "queue"


class Order(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    member_id = fields.CharField(max_length=64, db_index=True)
    channel = fields.CharField(max_length=16)
    store_id = fields.CharField(max_length=64, null=True)
    cashier_id = fields.CharField(max_length=64, null=True)
    profit_fen = fields.BigIntField(null=True)
    amount_fen = fields.BigIntField(default=0)
    member_level = fields.CharField(max_length=64, null=True)  # M-2: the member's level when the order was paid
    status = fields.CharField(max_length=12, default="PAID")
    paid_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)
    refunded_at = fields.DatetimeField(null=True)
    region = fields.CharField(max_length=128, null=True)  # DR-5; else the store's

    class Meta:
        table = "order"
        indexes = (("member_id", "status", "completed_at"), ("member_id", "store_id", "status", "completed_at"))


class MemberSpendDay(Model):
    """A member's completed spend per cumulative scope and platform-local day (QR-11).

    The scope is "mall" or "store:<id>" as in domain.queue_rebate_settings.cumulative_scope, the day
    the ISO local date of the order's completion. Intake adds a completed order's unrefunded lines
    and subtracts a line refunded after completion, so a window is a sum over its day rows."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.CharField(max_length=64)
    scope = fields.CharField(max_length=96)
    day = fields.CharField(max_length=10)
    amount_fen = fields.BigIntField(default=0)

    class Meta:
        table = "member_spend_day"
        unique_together = (("member_id", "scope", "day"),)


class OrderLine(Model):
    id = fields.BigIntField(primary_key=True)
    order_id = fields.CharField(max_length=64)
    index = fields.IntField()
    product_id = fields.CharField(max_length=64, null=True)
    quantity = fields.IntField(default=1)
    paid_fen = fields.BigIntField()
    deduction_fen = fields.BigIntField(default=0)
    queue_id = fields.CharField(max_length=96, null=True)
    refunded = fields.BooleanField(default=False)  # accepted refund (intake side)
    extraction_fen = fields.BigIntField(null=True)  # worker side: resolved when the paid line settles
    extracted = fields.BooleanField(default=False)  # worker side: its extraction has run
    cancelled = fields.BooleanField(default=False)  # worker side: its refund has settled

    class Meta:
        table = "order_line"
        unique_together = (("order_id", "index"),)


class Entitlement(Model):
    """待返权益 and the queue entries of every model (key: order:line or order)."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=96)
    model = fields.CharField(max_length=32)
    queue_id = fields.CharField(max_length=96)
    position = fields.BigIntField()
    member_id = fields.CharField(max_length=64)  # looked up through (member_id, scope_key, created_at)
    order_id = fields.CharField(max_length=64)
    line = fields.IntField(default=0)
    total_fen = fields.BigIntField()
    received_fen = fields.BigIntField(default=0)
    status = fields.CharField(max_length=12)
    order_completed = fields.BooleanField(default=False)
    ratio = fields.CharField(max_length=24, default="0")
    ratio_source = fields.CharField(max_length=48, default="")
    paid_fen = fields.BigIntField(default=0)  # the amount it was earned on (order dividend: the order amount)
    boost_fen = fields.BigIntField(default=0)  # union queue: credited acceleration not yet paid (UQ-4)
    lottery_source = fields.CharField(max_length=48, default="")
    drawn_ratio = fields.CharField(max_length=24, null=True)  # QR-12, with drawn_at
    drawn_at = fields.DatetimeField(null=True)
    exchanged_to = fields.CharField(max_length=16, null=True)  # QR-14 / QR-15
    exchanged_fen = fields.BigIntField(null=True)
    scope_key = fields.CharField(max_length=96, default="")  # QR-13 limits: product:<id> / store:<id> / cashier:<store>
    created_at = fields.DatetimeField()

    class Meta:
        table = "entitlement"
        unique_together = (("model", "key"),)
        # + the partial index `entitlement_boosted` (queue_id, position) WHERE boost_fen > 0 (migration 0012; MySQL:
        # (queue_id, boost_fen)). Neither `status` nor `received_fen` is in an index, so that a payout can be a HOT
        # update on PostgreSQL (migration 0014: and half of each page free): a queue's scans of what waits start at
        # its head (nothing before it waits) and skip the rest.
        indexes = (("queue_id", "position"), ("member_id", "scope_key", "created_at"))


class Transfer(Model):
    """One double-entry posting (C-5): amount_fen of asset from source to target."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    source = fields.CharField(max_length=128)
    target = fields.CharField(max_length=128, db_index=True)
    asset = fields.CharField(max_length=32)
    amount_fen = fields.BigIntField()
    memo = fields.CharField(max_length=64, default="")
    event_id = fields.BigIntField(null=True, db_index=True)
    queue_id = fields.CharField(max_length=96, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "transfer"


class Balance(Model):
    """An account's balance per asset, kept in the same transaction as its transfers."""

    id = fields.BigIntField(primary_key=True)
    account = fields.CharField(max_length=128)
    asset = fields.CharField(max_length=32)
    amount_fen = fields.BigIntField(default=0)

    class Meta:
        table = "balance"
        unique_together = (("account", "asset"),)


class JobRun(Model):
    """A scheduled job's run for one day (daily settlement, reset): resumable and run once."""

    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=64)
    day = fields.CharField(max_length=32)
    status = fields.CharField(max_length=12, default="RUNNING")
    cursor = fields.BigIntField(default=0)
    state = fields.JSONField(default=dict)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job_run"
        unique_together = (("job", "day"),)


class Withdrawal(Model):
    """提现 a cash withdrawal request (M-6) and its audit: who did each step, when, with which key."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    digest = fields.CharField(max_length=64)
    member_id = fields.CharField(max_length=64)
    amount_fen = fields.BigIntField()
    fee_fen = fields.BigIntField(default=0)
    status = fields.CharField(max_length=12)
    day = fields.CharField(max_length=10)  # platform-local day of the request (the daily limit)
    requested_at = fields.DatetimeField()
    requested_by = fields.CharField(max_length=64)
    approved_at = fields.DatetimeField(null=True)
    approved_by = fields.CharField(max_length=64, null=True)
    approve_key = fields.CharField(max_length=200, null=True)
    rejected_at = fields.DatetimeField(null=True)
    rejected_by = fields.CharField(max_length=64, null=True)
    reject_key = fields.CharField(max_length=200, null=True)
    paid_at = fields.DatetimeField(null=True)
    paid_by = fields.CharField(max_length=64, null=True)
    pay_key = fields.CharField(max_length=200, null=True)
    reference = fields.CharField(max_length=128, null=True)  # the payment's reference

    class Meta:
        table = "withdrawal"
        indexes = (("member_id", "day"), ("status", "id"), ("member_id", "id"))


class MemberTransfer(Model):
    """转赠 points or love value one member gave another, with its fee."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    digest = fields.CharField(max_length=64)
    giver_id = fields.CharField(max_length=64, db_index=True)
    receiver_id = fields.CharField(max_length=64)
    asset = fields.CharField(max_length=16)
    amount_fen = fields.BigIntField()
    fee_fen = fields.BigIntField(default=0)
    created_at = fields.DatetimeField()
    created_by = fields.CharField(max_length=64)

    class Meta:
        table = "member_transfer"


class LiabilityCount(Model):
    """A queue's outstanding (WAITING / ACTIVE) entitlements, kept by triggers on `entitlement` (I-5: no scan per report)."""

    queue_id = fields.CharField(max_length=96, primary_key=True)
    outstanding = fields.BigIntField(default=0)

    class Meta:
        table = "liability_count"


class LedgerDay(Model):
    """Per liability / pool account and UTC day: what came in and what went out (I-5's trailing
    inflow and payouts), kept beside the transfers."""

    id = fields.BigIntField(primary_key=True)
    account = fields.CharField(max_length=128)
    asset = fields.CharField(max_length=16)
    day = fields.CharField(max_length=10)
    inflow_fen = fields.BigIntField(default=0)
    outflow_fen = fields.BigIntField(default=0)
    inflows = fields.BigIntField(default=0)

    class Meta:
        table = "ledger_day"
        unique_together = (("account", "asset", "day"),)


class DistributionAgent(Model):
    """区域代理 a regional agent (DR-5): one member per level and region ("广东/东莞" for a CITY)."""

    id = fields.BigIntField(primary_key=True)
    level = fields.CharField(max_length=16)
    region = fields.CharField(max_length=128)
    member_id = fields.CharField(max_length=64, db_index=True)

    class Meta:
        table = "distribution_agent"
        unique_together = (("level", "region"),)


class DistributionShareholder(Model):
    """股东 a shareholder and its weight in the dividend (DR-6)."""

    member_id = fields.CharField(max_length=64, primary_key=True)
    weight = fields.CharField(max_length=24)

    class Meta:
        table = "distribution_shareholder"


class DistributionOrder(Model):
    """A completed order the distribution model settled: its amount (the shareholder turnover,
    DR-6, counted in `period` once a dividend ran) and whether it was refunded (DR-8)."""

    order_id = fields.CharField(max_length=64, primary_key=True)
    member_id = fields.CharField(max_length=64, db_index=True)
    amount_fen = fields.BigIntField()
    status = fields.CharField(max_length=12, default="OPEN")
    period = fields.CharField(max_length=16, null=True)
    completed_at = fields.DatetimeField()

    class Meta:
        table = "distribution_order"
        indexes = (("period", "status"),)


class DistributionReward(Model):
    """One reward paid (DR-1..DR-6): `source` is the order id or `shareholder:<period>`."""

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=96)
    member_id = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)
    amount_fen = fields.BigIntField()
    reversed = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()

    class Meta:
        table = "distribution_reward"
        unique_together = (("source", "member_id", "kind"),)
        indexes = (("member_id", "created_at"),)


class PdPlan(Model):
    """积分释放计划: one release plan per qualifying completed order (PD-1, PD-2, PD-10)."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    member_id = fields.CharField(max_length=64)
    position = fields.BigIntField()
    amount_fen = fields.BigIntField()
    tier = fields.CharField(max_length=64)
    total_fen = fields.BigIntField()
    daily_fen = fields.BigIntField()
    released_fen = fields.BigIntField(default=0)
    status = fields.CharField(max_length=12, default="ACTIVE")
    last_day = fields.CharField(max_length=10, null=True)
    last_static_fen = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pd_plan"
        indexes = (("member_id", "position"), ("status", "member_id"))


class TeamNode(Model):
    """太阳线 a member's place in the team tree and its folded team totals (ADR 0006, PD-4, PD-8)."""

    member_id = fields.CharField(max_length=64, primary_key=True)
    referrer_id = fields.CharField(max_length=64, null=True, db_index=True)
    depth = fields.IntField(default=0)
    jump_id = fields.CharField(max_length=64)
    size = fields.BigIntField(default=0)
    performance_fen = fields.BigIntField(default=0)
    points_fen = fields.BigIntField(default=0)
    own_fen = fields.BigIntField(default=0)
    own_points_fen = fields.BigIntField(default=0)
    path_id = fields.CharField(max_length=64, null=True)  # ADR 0008: the path it is on (named after its head)
    position = fields.BigIntField(default=0, db_default=0)  # on that path, the head 1
    heir_id = fields.CharField(max_length=64, null=True)  # the referral that extends its path

    class Meta:
        table = "team_node"
        indexes = (("depth", "member_id"), ("size",), ("path_id", "position"))


class TeamFenwick(Model):
    """One Fenwick row of a path's team amounts (ADR 0008): the sum of the amounts of a block of slots."""

    id = fields.BigIntField(primary_key=True)
    path_id = fields.CharField(max_length=64)
    idx = fields.BigIntField()
    fen = fields.BigIntField(default=0)

    class Meta:
        table = "team_fenwick"
        unique_together = (("path_id", "idx"),)


class TeamDelta(Model):
    """A change of team totals not yet folded (ADR 0006): added to `start_id` and its ancestors,
    and to `member_id`'s own totals when set."""

    seq = fields.BigIntField(primary_key=True)
    cause_key = fields.CharField(max_length=160, unique=True)
    member_id = fields.CharField(max_length=64, null=True)
    start_id = fields.CharField(max_length=64, null=True)
    order_id = fields.CharField(max_length=64, null=True, db_index=True)
    size = fields.BigIntField(default=0)
    performance_fen = fields.BigIntField(default=0)
    points_fen = fields.BigIntField(default=0)
    folded = fields.BooleanField(default=False)

    class Meta:
        table = "team_delta"
        indexes = (("folded", "seq"),)


class AppreciationHolder(Model):
    """消费增值 a member's current participation (CA-4): points and spend (fen), since when, and its
    cost per point `spend / points` in millionths of a yuan, rounded down (NULL without points): the
    B-tree on it answers "holders whose exit price ≤ P" as a range scan."""

    member_id = fields.CharField(max_length=64, primary_key=True)
    points_fen = fields.BigIntField(default=0)
    spend_fen = fields.BigIntField(default=0)
    started_at = fields.DatetimeField(null=True)
    participation = fields.IntField(default=0)
    cost_micro = fields.BigIntField(null=True, db_index=True)

    class Meta:
        table = "appreciation_holder"


class AppreciationPrice(Model):
    """消费增值 the price history for charts (CA-7): each change with its time, cause and event."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    cause = fields.CharField(max_length=12)
    event_key = fields.CharField(max_length=200)
    member_id = fields.CharField(max_length=64, null=True)
    pool_fen = fields.BigIntField()
    circulating_fen = fields.BigIntField()
    price_fen = fields.BigIntField()

    class Meta:
        table = "appreciation_price"


class AppreciationSale(Model):
    """消费增值 points sold (CA-3) or forced out (CA-4) by an event: the ticket's result."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.BigIntField(db_index=True)
    member_id = fields.CharField(max_length=64, db_index=True)
    points_fen = fields.BigIntField()
    price_fen = fields.BigIntField()
    value_fen = fields.BigIntField()
    paid_fen = fields.BigIntField()
    forced = fields.BooleanField()
    at = fields.DatetimeField()

    class Meta:
        table = "appreciation_sale"


class AppreciationOrder(Model):
    """消费增值 what a completed order added to its member's participation, for its refund."""

    order_id = fields.CharField(max_length=64, primary_key=True)
    member_id = fields.CharField(max_length=64)
    amount_fen = fields.BigIntField()
    points_fen = fields.BigIntField()
    participation = fields.IntField()

    class Meta:
        table = "appreciation_order"
