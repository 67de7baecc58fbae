"""Every model's batch handler, registered with the shared mechanism on import."""

import workers.queue_rebate  # noqa: F401
