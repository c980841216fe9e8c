"""ai-sandbox."""
