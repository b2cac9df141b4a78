"""Billing tests run on the shared server fixtures (auth off unless a module says otherwise)."""
