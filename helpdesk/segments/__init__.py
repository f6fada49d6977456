"""Segments: saved customer selections, always evaluated now."""
