"""Personal accounts: users, roles, sessions, API tokens and invitations.

Every route of ``dispatch serve`` decides access from :data:`.roles.PERMISSIONS`
(one table); passwords are Argon2id hashes, TOTP secrets are encrypted, session and
API tokens are stored as SHA-256 hashes only.
"""
