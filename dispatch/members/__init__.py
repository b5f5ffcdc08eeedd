"""The member's side: links from e-mails and letters, choices, requests.

:mod:`.links` checks member links (the values are made in
:mod:`dispatch.register.tokens`, issued with each batch by
:mod:`dispatch.campaigns.links`); :mod:`.choices` is the preference centre's
grid of purposes and channels; :mod:`.services` what a member can do with a link
(withdraw, restrict, object, ask for a confirmation or their data by e-mail);
:mod:`.requests` what waits for customer service (erasure, their data by post, whose
letter :mod:`.letter` lays out); :mod:`.inbound` reads the unsubscribe mailbox.
``docs/members.md`` explains it all for customer service.
"""

# Gives erasure (dispatch.privacy.erasure, a stage below) the step that revokes every
# link of the erased member.
from dispatch.members import links as _links
from dispatch.privacy import erasure as _erasure

_erasure.add_step("members.links", _links.revoke_member)
