"""amplifier-agent: an AI agent engine with a CLI, an OpenAI-compatible HTTP face and host SDKs."""

__version__ = "0.8.0"
PROTOCOL_VERSION = "0.3.0"

__all__ = ["PROTOCOL_VERSION", "__version__"]
