"""Live events: topics, the broadcaster-backed bus, and per-subscriber filtering."""
