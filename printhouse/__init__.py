"""The print house's own tool: collect, verify, decrypt, acknowledge, report returns.

It runs at another company, so it imports nothing from ``dispatch`` except the shared
batch-format module (added with the outbox).
"""

__version__ = "0.1.0"
