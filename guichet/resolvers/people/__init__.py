"""People: users, organizations and groups, accounts and sign-in, notifications."""
