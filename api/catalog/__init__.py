"""Stores, cashiers and products with their queue rebate settings (M-3, M-4, QR-19, QR-20)."""
