"""The OpenAI-compatible HTTP face (ASGI)."""
