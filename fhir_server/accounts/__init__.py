"""Hospital accounts: roles (smart_auth/roles.py holds the caps), the admin API and CLI, the
blacklist (deactivating a user). See README "Hospital operations — roles"."""
