"""Partner reports and the disclosure control every partner-facing number passes."""

# Gives erasure (dispatch.privacy.erasure, a stage below) the step that removes an erased
# member from the estimated audiences.
from dispatch.reports import erasure as _erasure  # noqa: F401
