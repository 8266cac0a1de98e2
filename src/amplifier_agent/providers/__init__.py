"""Provider adapters: one per wire format, each turning a ModelRequest into stream events."""
