"""Privacy machinery: the contact policy every recipient set passes, erasure and export.

The pieces the register itself needs (keyed hashing, suppressions, the audit log) live in
dispatch.register, below this package.
"""
