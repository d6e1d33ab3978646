"""HTTP API of accounts, by topic: auth.py, api_keys.py, organizations.py, invitations.py.

Views validate the input, call a service or a selector, and serialize; the organization always comes from the
credentials.
"""
