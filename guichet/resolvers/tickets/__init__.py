"""Tickets: opening, changing, searching, the conversation, custom fields and history."""
