"""Chat platforms: one module per platform (verify, parse, send), a registry and one blueprint."""
