"""Customer pages of accounts, by topic: auth.py (sign-in, registration, account, passwords), api_keys.py,
members.py (members, roles, invitations and their acceptance)."""
