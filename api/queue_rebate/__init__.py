"""排队返利 queue rebate: entitlements, queue progress (QR-18 display settings), queues and pools,
typed settings (QR-10..QR-20), member actions (QR-12 draw, QR-14 exchange) and resets (QR-16)."""
