"""Back office for users, organizations and credentials. No secret is ever displayed; every staff action and
membership change is recorded in the audit log (accounts.backoffice, billing.services.backoffice)."""

from accounts.admin import credentials, organizations, users

__all__ = ["credentials", "organizations", "users"]
