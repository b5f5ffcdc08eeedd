"""Per-command expectations of the CLI contract, as data (read by test_contract.py).

Every command of ``dispatch`` and ``printhouse`` needs an entry in :data:`BAD_INPUT`
(a call that must exit 2 with a one-line error) and in :data:`FAILS` (a well-formed call
that must exit 1, a failed operation). The tests walk the command trees, so a new
command without entries fails them with its name: add its cases here.

In arguments, ``{tmp}`` is the test's temporary folder; ``{tmp}/seg.yaml`` is a valid
partner segment there and ``{tmp}/afile`` an ordinary file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.transports.outbox import LocalOutbox
from tests.printhouse.factories import make_keys, seal

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = str(ROOT / "templates" / "creatives" / "coop-bicycles")
#: A PostgreSQL server that is certainly not there (port 9, discard): connecting fails.
UNREACHABLE = {"DISPATCH_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
NOT_MIGRATED = "run `dispatch db upgrade`"
AS = ("--as", "admin.person")

Args = tuple[str, ...]


@dataclass(frozen=True)
class Call:
    """One call of a command, and the fragment its last line on stderr must hold."""

    args: Args
    says: str
    #: Calls (of the same program) that must succeed first, e.g. to make a thing to break.
    before: tuple[Args, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[Path], None] | None = None
    #: Run against a database file that was never migrated (a failed operation).
    bare: bool = False
    #: Lines on stderr: problem listings (``segment check``) precede the summary.
    lines: int = 1


def _keys(tmp: Path) -> None:
    make_keys(tmp / "keys")


def _incomplete_batch(tmp: Path) -> None:
    keys = make_keys(tmp / "keys")
    sealed = seal(keys, "b0001")
    outbox = LocalOutbox(tmp / "outbox")
    outbox.put_batch("b0001", sealed.encrypted_pdf, sealed.manifest, sealed.signature)
    (tmp / "outbox" / "b0001" / "COMPLETE").unlink()


def _spooled_batch_and_a_file_for_outbox(tmp: Path) -> None:
    keys = make_keys(tmp / "keys")
    (tmp / "spool" / "b0001").mkdir(parents=True)
    (tmp / "spool" / "b0001" / "manifest.json").write_bytes(seal(keys, "b0001").manifest)
    (tmp / "returns.csv").write_text("batch_id,sequence_no,reason\nb0001,1,moved\n")


SEGMENT = ("--segment", "{tmp}/seg.yaml")
SEEDED = (("register", "seed", "--members", "3"),)
ERASED = (*SEEDED, ("member", "erase", "1", "--yes", "--as", "m"))
DISABLED = (
    ("account", "create", "u.ser", "--role", "auditor", *AS),
    ("account", "disable", "u.ser", *AS),
)

BAD_INPUT: dict[str, Call] = {
    "dispatch account create": Call(("x.y", "--role", "wizard", *AS), "--role: unknown role"),
    "dispatch account disable": Call(("nobody", *AS), "no user named 'nobody'"),
    "dispatch account invite": Call(("nobody", *AS), "no user named 'nobody'"),
    "dispatch account list": Call(("--partner", "Nobody", *AS), "--partner: no partner named"),
    "dispatch account token": Call(("x", "--name", "t", "--list", *AS), "give exactly one of"),
    "dispatch audit list": Call(("--since", "yesterday", *AS), "--since: not a date"),
    "dispatch campaign approve": Call(("999", *AS), "no campaign 999"),
    "dispatch campaign cancel": Call(("999", *AS), "no campaign 999"),
    "dispatch campaign create": Call(
        ("--partner", "Nobody", "--creative", "1", *SEGMENT, "--channel", "post", *AS),
        "--partner: no partner named 'Nobody'",
    ),
    "dispatch campaign list": Call(("--status", "sleeping"), "--status"),
    "dispatch campaign report": Call(("999",), "no campaign 999"),
    "dispatch campaign start": Call(("999",), "no campaign 999"),
    "dispatch campaign status": Call(("999", "--once"), "no campaign 999"),
    "dispatch creative approve": Call(("999", *AS), "no creative version 999"),
    "dispatch creative list": Call(("--partner", "Nobody"), "--partner: no partner named"),
    "dispatch creative preview": Call(("999", "--out", "{tmp}/p"), "no creative version 999"),
    "dispatch creative reject": Call(("999", "--reason", "r", *AS), "no creative version 999"),
    "dispatch creative show": Call(("999",), "no creative version 999"),
    "dispatch creative submit": Call(("Nobody", "{tmp}"), "no partner named 'Nobody'"),
    "dispatch db status": Call((), "DISPATCH_DATABASE_URL", env={"DISPATCH_DATABASE_URL": "db"}),
    "dispatch db upgrade": Call(("--revision", "nope"), "--revision: no revision 'nope'"),
    "dispatch demo": Call(("--segments", "{tmp}"), "--segments: the demo campaigns need"),
    "dispatch mailer inbound": Call(("--from", "ftp://mail"), "expected maildir://PATH"),
    "dispatch member consent": Call(
        ("424242", "grant", "--purpose", "own_marketing", "--channel", "email", *AS),
        "no member with id 424242",
    ),
    "dispatch member erase": Call(("424242", "--yes", *AS), "no member with id 424242"),
    "dispatch member export": Call(("424242", *AS), "no member with id 424242"),
    "dispatch member object": Call(("424242", *AS), "no member with id 424242"),
    "dispatch member revoke-links": Call(("424242", *AS), "no member with id 424242"),
    "dispatch member show": Call(("424242", *AS), "no member with id 424242"),
    "dispatch partner bonus-code": Call(
        ("P", ""), "CODE: a bonus code is", before=(("partner", "create", "P"),)
    ),
    "dispatch partner create": Call(("",), "NAME: a partner name is 1-80 characters"),
    "dispatch partner house": Call(("Nobody",), "no partner named 'Nobody'"),
    "dispatch partner list": Call((), "DISPATCH_DATABASE_URL", env={"DISPATCH_DATABASE_URL": "x"}),
    "dispatch register import": Call(("{tmp}",), "no feed files here"),
    "dispatch register product-groups": Call(("--sensitive", "yes"), "unexpected extra argument"),
    "dispatch register seed": Call(("--members", "0"), "--members"),
    "dispatch register stats": Call(("--as-of", "x"), "No such option '--as-of'"),
    "dispatch report budget": Call(("Nobody",), "no partner named 'Nobody'"),
    "dispatch report partner": Call(("999", *AS), "no campaign 999"),
    "dispatch segment check": Call(("{tmp}/none.yaml",), "1 problem in 1 of 1 file", lines=2),
    "dispatch segment count": Call(("{tmp}/none.yaml",), "cannot read"),
    "dispatch segment explain": Call(("{tmp}/none.yaml",), "cannot read"),
    "dispatch segment why": Call(("{tmp}/seg.yaml", "424242", *AS), "no member with id 424242"),
    "dispatch serve": Call(("--port", "0"), "--port"),
    "dispatch worker": Call(
        ("--once",),
        "--once needs the embedded broker",
        env={"DISPATCH_BROKER_URL": "redis://127.0.0.1:9/0"},
    ),
    "printhouse ack": Call(("../b0001", "--outbox", "file://{tmp}/outbox"), "invalid batch id"),
    "printhouse collect": Call(
        (
            "--outbox",
            "file://{tmp}/outbox",
            "--identity",
            "{tmp}/none",
            "--dispatcher-key",
            "{tmp}/keys/dispatcher.pub",
            "--spool",
            "{tmp}/spool",
        ),
        "{tmp}/none: No such file or directory",
        prepare=_keys,
    ),
    "printhouse keygen": Call(("--out", "{tmp}/afile"), "is a file"),
    "printhouse returns": Call(
        ("{tmp}/none.csv", "--outbox", "file://{tmp}/outbox"), "cannot read"
    ),
}

FAILS: dict[str, Call] = {
    "dispatch account create": Call(("u", "--role", "auditor", *AS), NOT_MIGRATED, bare=True),
    "dispatch account disable": Call(("u", *AS), NOT_MIGRATED, bare=True),
    "dispatch account invite": Call(("u.ser", *AS), "u.ser is disabled", before=DISABLED),
    "dispatch account list": Call(AS, NOT_MIGRATED, bare=True),
    "dispatch account token": Call(("u.ser", "--name", "t", *AS), "is disabled", before=DISABLED),
    "dispatch audit list": Call(AS, NOT_MIGRATED, bare=True),
    "dispatch campaign approve": Call(("1", *AS), NOT_MIGRATED, bare=True),
    "dispatch campaign cancel": Call(("1", *AS), NOT_MIGRATED, bare=True),
    "dispatch campaign create": Call(
        ("--partner", "P", "--creative", "1", *SEGMENT, "--channel", "post", *AS),
        NOT_MIGRATED,
        bare=True,
    ),
    "dispatch campaign list": Call((), NOT_MIGRATED, bare=True),
    "dispatch campaign report": Call(("1",), NOT_MIGRATED, bare=True),
    "dispatch campaign start": Call(("1",), NOT_MIGRATED, bare=True),
    "dispatch campaign status": Call(("1", "--once"), NOT_MIGRATED, bare=True),
    "dispatch creative approve": Call(
        ("1", "--as", "second.person"),
        "only a submitted version can be approved",
        before=(
            ("partner", "create", "Fuel Oy"),
            ("creative", "submit", "Fuel Oy", BUNDLE),
            ("creative", "approve", "1", *AS),
        ),
    ),
    "dispatch creative list": Call((), NOT_MIGRATED, bare=True),
    "dispatch creative preview": Call(("1", "--out", "{tmp}/p"), NOT_MIGRATED, bare=True),
    "dispatch creative reject": Call(("1", "--reason", "r", *AS), NOT_MIGRATED, bare=True),
    "dispatch creative show": Call(("1",), NOT_MIGRATED, bare=True),
    "dispatch creative submit": Call(("P", BUNDLE), NOT_MIGRATED, bare=True),
    "dispatch db status": Call((), "database error", env=UNREACHABLE),
    "dispatch db upgrade": Call((), "database error", env=UNREACHABLE),
    "dispatch demo": Call(  # --json: no narration on stderr before the error
        ("--members", "10", "--segments", str(ROOT / "segments"), "--json"),
        "database error",
        env=UNREACHABLE,
    ),
    "dispatch mailer inbound": Call(
        ("--from", "imap://u:p@127.0.0.1:9/INBOX?starttls=off"), "cannot sign in to the IMAP"
    ),
    "dispatch member consent": Call(
        ("1", "grant", "--purpose", "own_marketing", "--channel", "email", "--as", "m"),
        "member 1 was erased on",
        before=ERASED,
    ),
    "dispatch member erase": Call(("1", "--yes", "--as", "m"), "was erased on", before=ERASED),
    "dispatch member export": Call(("1", *AS), NOT_MIGRATED, bare=True),
    "dispatch member object": Call(("1", "--as", "m"), "was erased on", before=ERASED),
    "dispatch member revoke-links": Call(("1", *AS), NOT_MIGRATED, bare=True),
    "dispatch member show": Call(("1", *AS), NOT_MIGRATED, bare=True),
    "dispatch partner bonus-code": Call(("P", "p_code"), NOT_MIGRATED, bare=True),
    "dispatch partner create": Call(("P",), NOT_MIGRATED, bare=True),
    "dispatch partner house": Call(("P",), NOT_MIGRATED, bare=True),
    "dispatch partner list": Call((), NOT_MIGRATED, bare=True),
    "dispatch register import": Call(("{tmp}",), NOT_MIGRATED, bare=True),
    "dispatch register product-groups": Call((), NOT_MIGRATED, bare=True),
    "dispatch register seed": Call(
        ("--members", "3"), "the register already has data", before=SEEDED
    ),
    "dispatch register stats": Call((), NOT_MIGRATED, bare=True),
    "dispatch report budget": Call(("P",), NOT_MIGRATED, bare=True),
    "dispatch report partner": Call(("1", *AS), NOT_MIGRATED, bare=True),
    "dispatch segment check": Call(("{tmp}/seg.yaml",), NOT_MIGRATED, bare=True),
    "dispatch segment count": Call(("{tmp}/seg.yaml",), NOT_MIGRATED, bare=True),
    "dispatch segment explain": Call(("{tmp}/seg.yaml",), NOT_MIGRATED, bare=True),
    "dispatch segment why": Call(("{tmp}/seg.yaml", "1", *AS), NOT_MIGRATED, bare=True),
    "dispatch serve": Call((), NOT_MIGRATED, bare=True),
    "dispatch worker": Call(("--once",), NOT_MIGRATED, bare=True),
    "printhouse ack": Call(
        ("b0001", "--outbox", "file://{tmp}/outbox"),
        "batch b0001 is not complete yet",
        prepare=_incomplete_batch,
    ),
    "printhouse collect": Call(
        (
            "--outbox",
            "file://{tmp}/nowhere",
            "--identity",
            "{tmp}/keys/identity.age",
            "--dispatcher-key",
            "{tmp}/keys/dispatcher.pub",
            "--spool",
            "{tmp}/spool",
        ),
        "no such folder",
        prepare=_keys,
    ),
    "printhouse keygen": Call(
        ("--out", "{tmp}/k"),
        "refusing to overwrite a key",
        before=(("keygen", "--out", "{tmp}/k"),),
    ),
    "printhouse returns": Call(
        ("{tmp}/returns.csv", "--outbox", "file://{tmp}/afile", "--spool", "{tmp}/spool"),
        "cannot write returns/",
        prepare=_spooled_batch_and_a_file_for_outbox,
    ),
}
