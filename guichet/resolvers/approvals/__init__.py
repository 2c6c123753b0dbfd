"""Approvals: asking, deciding, and the approver's feed."""
