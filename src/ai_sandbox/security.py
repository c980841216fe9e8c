"""Path layer (stub: being written)."""
