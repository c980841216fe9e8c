"""Executor (stub: being written)."""
