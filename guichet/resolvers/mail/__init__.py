"""Mail: the outbox of messages waiting to be sent."""
