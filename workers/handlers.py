"""Every model's batch handler, registered with the shared mechanism on import."""

import workers.order_dividend
import workers.queue_rebate
import workers.union_queue  # noqa: F401
