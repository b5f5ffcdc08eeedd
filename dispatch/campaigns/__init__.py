"""Campaigns: create, approve, snapshot, dispatch and reconcile."""

# Provides the "campaigns" section of a member's export (dispatch.privacy.export), which
# privacy cannot import from a stage above it.
from dispatch.campaigns import export as _export  # noqa: F401
