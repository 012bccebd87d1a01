"""Mamori endpoint agent."""
