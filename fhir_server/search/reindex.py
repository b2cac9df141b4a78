"""Rebuild search indexes for stored resources (placeholder until the full version lands)."""
