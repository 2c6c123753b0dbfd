"""What admins and dashboards read across tickets: analytics."""
