"""Billing: products, orders, payments by PayU, cash, transfer and slip (domain arrives with its issue)."""
