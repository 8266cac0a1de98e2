"""The shared vocabulary: messages, usage, events, errors and the provider catalog (stdlib only)."""
