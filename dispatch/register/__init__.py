"""The member register: members, households, stores, behaviour and the consent ledger."""
