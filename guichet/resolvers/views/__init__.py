"""Saved views (named ticket lists), their counts and the agent's dashboard."""
