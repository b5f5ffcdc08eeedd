"""Privacy machinery: suppressions, the audit log, keyed hashing, erasure and export."""
