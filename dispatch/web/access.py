"""Who is asking, and may they: the one access check every route goes through.

:func:`require` makes the dependency a route declares with its :class:`Action`;
it finds the principal (an API bearer token on ``/api``, the session cookie on
pages), refuses anonymous callers (401), roles the roles table does not allow and
read-only tokens on writes (403). Tenancy is the second half: :func:`own` turns
another partner's object into a 404, so a partner cannot even learn it exists.

Members have no account: a member route declares instead the kind of member link
that opens it (:func:`member_link` for a link in the path or a code in the form,
:func:`member_visit` for the preference-centre session such a link opened). A staff
or partner account opens no member route; and a member link opens nothing else.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

import anyio
from fastapi import Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from dispatch.accounts import services as accounts
from dispatch.accounts.models import TokenScope, User
from dispatch.accounts.roles import READ_ACTIONS, Action, Role, allowed
from dispatch.campaigns.models import MemberLink
from dispatch.db.engine import bound_sessions
from dispatch.members import links, services
from dispatch.register.tokens import LinkPurpose
from dispatch.web.problems import forbidden, is_api, not_found, unauthenticated

SESSION_COOKIE = "dispatch_session"
#: Requests in the database at once. A request uses at most two connections (a member
#: link counts its failures in a transaction of its own), so the pool holds twice this.
DB_SLOTS = 8
#: The preference-centre session of a member (HttpOnly, SameSite=Lax: the visit
#: starts with a link followed from a mail client or a QR code, another site).
MEMBER_COOKIE = "dispatch_member"


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the handler returns, else rolled back.

    Opening the session does no I/O (the connection is taken by the first query), so it
    happens on the event loop; the commit or rollback, which talk to the database, run
    in the thread pool, shielded from cancellation so that a dropped client never leaves
    a connection checked out.

    A route marked :func:`reads_only` gets, on PostgreSQL, a session without a
    transaction instead (autocommit): no BEGIN and no COMMIT round trip, and no
    thread-pool call to end it, as closing it does no I/O. Its reads see what they would
    in a transaction (at READ COMMITTED every statement takes its own snapshot either
    way); the one write such a request may make, a credential's sliding expiry, is a
    single statement (:func:`dispatch.accounts.services.check_session`).

    A request holds its connection across several thread-pool calls (its access check,
    its handler, its commit). Were more requests to hold connections than the pool has,
    the thread pool could fill with checkouts waiting for connections whose requests
    wait for a thread to commit: a deadlock until the pool's timeout. So a request first
    takes one of ``app.state.db_slots`` (:data:`DB_SLOTS`, sized with the pool in
    :func:`dispatch.web.app.create_app`), and waits for it on the event loop, not in a
    thread. Fewer requests in threads at once also means less contention for the GIL.
    """
    slots: anyio.Semaphore = request.app.state.db_slots
    reader: sessionmaker[Session] | None = request.app.state.read_sessions
    if reader is not None and _reads_only(request):
        async with slots:
            session = reader()
            try:
                yield session
            finally:
                session.close()
        return
    factory: sessionmaker[Session] = request.app.state.sessions
    async with slots:
        session = factory()
        session.begin()
        try:
            yield session
        except BaseException:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_end, session, commit=False)
            raise
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, session, commit=True)


EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def reads_only(endpoint: EndpointT) -> EndpointT:
    """Mark a GET route whose handler only reads (see :func:`db_session`). Put it under
    the route's decorator; tests/web/test_access_sessions.py checks that only GET routes
    carry it. Never on a route that locks rows (``FOR UPDATE``, as a report release
    does): without a transaction the lock would end with its statement."""
    endpoint.reads_only = True  # type: ignore[attr-defined]
    return endpoint


#: A statement that locks rows: its lock would end with it where there is no transaction.
_LOCKING = re.compile(r"\bFOR\s+(NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)


class LockWithoutTransaction(RuntimeError):
    """A route marked :func:`reads_only` asked for a row lock (a programming error)."""


def read_sessions(engine: Engine) -> sessionmaker[Session] | None:
    """Sessions without a transaction for the routes marked :func:`reads_only`, or None
    where every route keeps its transaction: on SQLite one connection may be shared, and
    switching it to autocommit would end another request's transaction.

    A locking statement in such a session is refused (:class:`LockWithoutTransaction`)
    rather than run with a lock that would protect nothing.
    """
    if engine.dialect.name != "postgresql":
        return None
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")

    @event.listens_for(reader, "before_cursor_execute")
    def _refuse_locks(*args: Any) -> None:
        statement: str = args[2]
        if _LOCKING.search(statement):
            raise LockWithoutTransaction(
                "a route marked reads_only locks rows; remove the mark: " + statement[:80]
            )

    return bound_sessions(reader)


def _reads_only(request: Request) -> bool:
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return bool(getattr(endpoint, "reads_only", False)) and request.method in ("GET", "HEAD")


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


#: ``scope="function"``: the transaction commits when the handler returns, *before* the
#: response is sent, so a failed commit is an error answer, never a false success.
DB = Annotated[Session, Depends(db_session, scope="function")]


@dataclass(frozen=True)
class Principal:
    """The signed-in user of one request, and how they proved it.

    Plain values (:class:`~dispatch.accounts.services.Identity`), not the ORM user: they
    stay readable after the request's transaction has rolled back, for the error page
    and the access log. A handler that changes the account loads it with :meth:`user`.
    """

    identity: accounts.Identity
    via: str  # "session" or "token"
    scope: str  # "write" for sessions; the token's scope otherwise
    origin: str

    @property
    def role(self) -> Role:
        return self.identity.role

    @property
    def name(self) -> str:
        return self.identity.username

    @property
    def user_id(self) -> int:
        return self.identity.user_id

    @property
    def partner_id(self) -> int | None:
        return self.identity.partner_id

    @property
    def is_partner(self) -> bool:
        return self.identity.is_partner

    def user(self, session: Session) -> User:
        """The account as an ORM object in ``session``, for a change made to it."""
        user = session.get(User, self.identity.user_id)
        if user is None:  # deleted since the access check: there are no deletions
            raise unauthenticated()
        return user

    def may(self, action: Action) -> bool:
        if self.via == "token" and self.scope != TokenScope.WRITE and action not in READ_ACTIONS:
            return False
        return allowed(self.role, action)


def origin_of(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def identify(request: Request, session: Session) -> Principal | None:
    """The principal of a request, or None (anonymous, expired, revoked, unverified)."""
    origin = origin_of(request)
    if is_api(request):
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        token = accounts.check_token(session, value.strip())
        if token is None:
            return None
        return Principal(token.identity, "token", token.scope.value, origin)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    signed_in = accounts.check_session(session, cookie)
    if signed_in is None or not signed_in.verified:
        return None
    return Principal(signed_in.identity, "session", TokenScope.WRITE.value, origin)


def admit(request: Request, session: Session, action: Action) -> Principal:
    """The principal of a request allowed to do ``action``; else 401 or 403."""
    principal = identify(request, session)
    if principal is None:
        raise unauthenticated()
    # Known before the check, so that a refusal's page, too, says who is signed in.
    request.state.principal = principal
    if not principal.may(action):
        if principal.via == "token" and allowed(principal.role, action):
            raise forbidden("this API token is read-only")
        raise forbidden()
    return principal


def require(action: Action) -> Callable[..., Principal]:
    """The dependency that admits a request to a route doing ``action``."""

    def dependency(request: Request, session: DB) -> Principal:
        return admit(request, session, action)

    dependency.action = action  # type: ignore[attr-defined]  # read by the route matrix test
    return dependency


@dataclass(frozen=True)
class Admission:
    """A request's access check, put off until its handler's thread runs it."""

    request: Request
    session: Session
    action: Action

    def principal(self) -> Principal:
        return admit(self.request, self.session, self.action)


def _admission(action: Action) -> Callable[..., Any]:
    async def dependency(request: Request, session: DB) -> Admission:
        return Admission(request, session, action)

    dependency.action = action  # type: ignore[attr-defined]  # read by the route matrix test
    return dependency


def _required_action(hint: Any) -> Action | None:
    """The action of a ``Annotated[Principal, Depends(require(action))]`` parameter."""
    if get_origin(hint) is not Annotated:
        return None
    for extra in get_args(hint)[1:]:
        action = getattr(getattr(extra, "dependency", None), "action", None)
        if isinstance(action, Action):
            return action
    return None


def admitted_in_handler(endpoint: EndpointT) -> EndpointT:
    """``endpoint``, or where it can do so unchanged, one that runs its access check
    in the same thread-pool call as itself.

    FastAPI runs a sync dependency and a sync handler in two thread-pool calls, each a
    hand-off to a worker thread and back to the event loop; under load the hand-offs
    cost more than a small page's queries (bench/HISTORY.md). A sync handler whose only
    parameters are the request, the session and its principal has nothing for FastAPI
    to validate between the two calls, so the check runs first in the handler's call,
    with the same answers: the same 401 or 403 before anything else of the handler
    runs. Any other parameter (a path or query value, a form, another dependency) keeps
    the check a dependency of its own, which FastAPI runs before it validates them.
    Routers apply this to every route they add (:class:`dispatch.web.routing.Router`).
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint
    hints = get_type_hints(endpoint, include_extras=True)
    signature = inspect.signature(endpoint)
    admitted: str | None = None
    parameters = []
    for parameter in signature.parameters.values():
        hint = hints.get(parameter.name)
        action = _required_action(hint)
        if action is not None and admitted is None:
            admitted = parameter.name
            hint = Annotated[Admission, Depends(_admission(action))]
        elif hint is not Request and hint != DB:
            return endpoint
        parameters.append(parameter.replace(annotation=hint))
    if admitted is None:
        return endpoint
    name = admitted

    @functools.wraps(endpoint)
    def handler(**values: Any) -> Any:
        values[name] = values[name].principal()
        return endpoint(**values)

    handler.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=hints.get("return", inspect.Signature.empty)
    )
    return handler  # type: ignore[return-value]


def own(principal: Principal, partner_id: int | None) -> None:
    """Raise 404 unless a partner user's object belongs to their own partner.

    Staff pass (their role already decided what they may do); a partner user asking
    for another partner's object is told it does not exist, exactly as for an id
    that exists nowhere.
    """
    if principal.is_partner and principal.partner_id != partner_id:
        raise not_found()


async def member_page(request: Request) -> None:
    """Mark a member page: errors then answer in the member's languages, never with the
    staff sign-in page (a router dependency of every member route)."""
    request.state.member_page = True


def member_link(purpose: LinkPurpose, *, field: str | None = None) -> Callable[..., MemberLink]:
    """The dependency of a route opened by a member link of ``purpose``: the value is
    the path's ``{token}``, or with ``field="code"`` a letter code typed into a form.

    Unknown values are 404 (and counted against the caller's address), expired,
    revoked, spent ones and those of an erased member 410, too many failures 429.
    """
    if field == "code":

        def from_form(
            request: Request, session: DB, code: Annotated[str, Form(max_length=40)] = ""
        ) -> MemberLink:
            return _look_up(request, session, purpose, code)

        dependency: Callable[..., MemberLink] = from_form
    elif field is None:

        def from_path(request: Request, session: DB, token: str) -> MemberLink:
            return _look_up(request, session, purpose, token)

        dependency = from_path
    else:
        raise ValueError(f"member links come in the path or a code field, not {field!r}")
    dependency.member_link = purpose  # type: ignore[attr-defined]  # read by the route matrix test
    return dependency


def _look_up(request: Request, session: DB, purpose: LinkPurpose, value: str) -> MemberLink:
    secret = request.app.state.settings.secret_key
    return links.look_up(session, purpose, value[:200], secret, origin=origin_of(request))


def member_visit() -> Callable[..., services.Visit]:
    """The dependency of a preference-centre route: the session a member link opened.

    No session cookie is 401; an unknown one 404 (counted), an expired or ended one 410.
    """

    def dependency(request: Request, session: DB) -> services.Visit:
        value = request.cookies.get(MEMBER_COOKIE, "")
        if not value:
            raise links.LinkRefused(401, "no session")
        link = _look_up(request, session, LinkPurpose.SESSION, value)
        visit = services.visit_of(link)
        request.state.member_language = visit.language
        return visit

    dependency.member_link = LinkPurpose.SESSION  # type: ignore[attr-defined]
    return dependency
