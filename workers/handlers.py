"""Every model's batch handler, registered with the shared mechanism on import."""

import workers.order_dividend  # noqa: F401
import workers.queue_rebate  # noqa: F401
import workers.union_queue  # noqa: F401
