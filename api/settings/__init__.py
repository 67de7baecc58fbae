"""Model settings (C-11, QR-19, I-6 `settings`): validated whole, versioned."""
