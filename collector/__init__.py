"""Mamori collector: receives agent telemetry over mTLS, stores it, flags violations, reports."""
