"""The member register: members, households, stores, behaviour and the consent ledger."""

# Registers the session hook that keeps members' contact flags in step with every ORM
# write of consent_state and suppressions, whichever module writes them.
from dispatch.register import flags as _flags  # noqa: F401
