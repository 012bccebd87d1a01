"""The agent-collector contract (mamori.v1) and the small pieces both sides share."""

__version__ = "0.1.0"
