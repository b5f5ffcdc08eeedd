"""``dispatch serve``: the HTTP service with a door for each kind of user.

Pages for people (partner portal under ``/partner``, staff portal under ``/staff``)
and the same operations as JSON under ``/api/v1``. Every route names one
:class:`dispatch.accounts.roles.Action` through :func:`dispatch.web.access.require`,
and calls the same service functions as the CLI.
"""
