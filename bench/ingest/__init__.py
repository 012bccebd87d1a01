"""Ingest throughput benchmark: simulated agents stream event batches to a real collector over mTLS."""
