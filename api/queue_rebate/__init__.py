"""排队返利 queue rebate reads: entitlements, queue progress, queues and pools (QR-1..QR-8, I-5)."""
