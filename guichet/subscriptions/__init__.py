"""Live events: the broadcaster-backed bus, and per-subscriber filtering."""
