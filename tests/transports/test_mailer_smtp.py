"""The SMTP mailer against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dispatch.errors import InputError
from dispatch.rendering import EmailBuilder
from dispatch.transports.factory import mailer_from_url
from dispatch.transports.mailer import SendResult
from dispatch.transports.mailer_smtp import SmtpConfig, SmtpPool
from tests.factories import TEST_SECRET

SENDER = "uutiset@esimerkki.fi"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Recorder:
    """Records what reaches the server; answers 451/550 for chosen recipients."""

    #: Offer PIPELINING (RFC 2920) in the EHLO answer, as real relays do; aiosmtpd
    #: reads pipelined commands one by one either way.
    pipelining: bool = True
    temporary: set[str] = field(default_factory=set)
    permanent: set[str] = field(default_factory=set)
    reject_data: set[str] = field(default_factory=set)
    envelopes: list[Envelope] = field(default_factory=list)
    #: The latest session per connection (client address and port) and its server.
    connections: dict[object, tuple[Session, SMTP]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        # A client says EHLO again after STARTTLS: count each connection once.
        self.connections[session.peer] = (session, server)
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    @property
    def sessions(self) -> list[Session]:
        return [session for session, _ in self.connections.values()]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.temporary:
            return "451 4.3.0 mailbox busy, try again later"
        if address in self.permanent:
            return f"550 5.1.1 <{address}>: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if set(envelope.rcpt_tos) & self.reject_data:
            return "554 5.7.1 message content rejected"
        with self.lock:
            self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued"


@dataclass
class Server:
    recorder: Recorder
    controller: Controller
    port: int

    def url(self, scheme: str = "smtp", userinfo: str = "", query: str = "") -> str:
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}" + (f"?{query}" if query else "")

    def drop_connections(self) -> None:
        """Close every session from the server side, as a relay restart would."""
        done = threading.Event()

        def close_all() -> None:
            for _, server in self.recorder.connections.values():
                if server.transport is not None:
                    server.transport.close()
            done.set()

        self.controller.loop.call_soon_threadsafe(close_all)
        assert done.wait(5)


@pytest.fixture(params=["pipelining", "lockstep"])
def smtp_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    """Start an aiosmtpd server with the given SMTP options; stopped after the test.

    Every test runs against a server that offers PIPELINING and one that does not:
    the client sends MAIL, RCPT and DATA in one write to the first, one by one to the
    second."""
    started: list[Controller] = []

    def start(port: int | None = None, **kwargs: Any) -> Server:
        recorder = Recorder(pipelining=request.param == "pipelining")
        port = port or free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return Server(recorder, controller, port)

    yield start
    for controller in started:
        controller.stop()


@dataclass(frozen=True)
class Cert:
    cafile: Path
    server_context: ssl.SSLContext


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate for 127.0.0.1, trusted only where a test says so."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dispatch test relay")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cafile, keyfile = folder / "cert.pem", folder / "key.pem"
    cafile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cafile, keyfile)
    return Cert(cafile, context)


# aiosmtpd warns (rightly) about a server taking AUTH without TLS; these tests need one.
_AUTH_WITHOUT_TLS = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)


def marketing_email(to_address: str = "maija@example.fi", member_id: int = 1) -> bytes:
    builder = EmailBuilder(
        campaign_id=7,
        language="fi",
        subject="Kevään pyörätarjous",
        assets={},
        secret=TEST_SECRET,
        date=dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
    )
    return builder.build(
        member_id=member_id,
        to_address=to_address,
        to_name="Åsa Öhrnberg",
        html_body="<p>Hei!</p>\n<p>.Piste rivin alussa.</p>",
        text_body="Hei!\n.Piste rivin alussa.",
    )


def test_message_arrives_byte_exact_with_its_unsubscribe_headers(
    smtp_server: Callable[..., Server],
) -> None:
    server = smtp_server()
    message = marketing_email()
    assert b"List-Unsubscribe:" in message and b"\r\n." in message  # dot-stuffing exercised
    mailer = mailer_from_url(server.url())
    try:
        result = mailer.send(SENDER, "maija@example.fi", message)
    finally:
        mailer.close()
    assert result.status == "sent"
    assert result.reason == "250 2.0.0 Ok: queued"
    [envelope] = server.recorder.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["maija@example.fi"]
    assert envelope.original_content == message


def test_one_connection_carries_many_messages(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    pool = SmtpPool.from_url(server.url(), pool_size=1)
    try:
        results = [pool.send(SENDER, f"m{i}@example.fi", marketing_email()) for i in range(100)]
    finally:
        pool.close()
    assert {r.status for r in results} == {"sent"}
    assert len(server.recorder.envelopes) == 100
    assert len(server.recorder.sessions) == 1


def test_pool_sends_concurrently_with_at_most_one_connection_per_slot(
    smtp_server: Callable[..., Server],
) -> None:
    server = smtp_server()
    pool = SmtpPool.from_url(server.url(query="pool=4"))
    items = [(SENDER, f"m{i}@example.fi", marketing_email(member_id=i)) for i in range(100)]
    try:
        results = pool.send_many(items)
    finally:
        pool.close()
    assert [r.status for r in results] == ["sent"] * 100
    delivered = sorted(e.rcpt_tos[0] for e in server.recorder.envelopes)
    assert delivered == sorted(recipient for _, recipient, _ in items)
    assert 1 <= len(server.recorder.sessions) <= 4
    assert sum(c.connects for c in pool.connections) == len(server.recorder.sessions)


def test_pool_is_safe_to_share_between_threads(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    pool = SmtpPool.from_url(server.url(), pool_size=2)
    results: list[SendResult] = []

    def send_ten(worker: int) -> None:
        for i in range(10):
            results.append(pool.send(SENDER, f"w{worker}-{i}@example.fi", marketing_email()))

    threads = [threading.Thread(target=send_ten, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.close()
    assert len(results) == 60 and {r.status for r in results} == {"sent"}
    assert len(server.recorder.envelopes) == 60
    assert len(server.recorder.sessions) <= 2


def test_temporary_refusal_is_retried_and_permanent_one_fails_with_the_server_reason(
    smtp_server: Callable[..., Server],
) -> None:
    server = smtp_server()
    server.recorder.temporary.add("busy@example.fi")
    server.recorder.permanent.add("gone@example.fi")
    server.recorder.reject_data.add("spam@example.fi")
    pool = SmtpPool.from_url(server.url(), pool_size=1)
    items = [
        (SENDER, "busy@example.fi", marketing_email()),
        (SENDER, "gone@example.fi", marketing_email()),
        (SENDER, "spam@example.fi", marketing_email()),
        (SENDER, "fine@example.fi", marketing_email()),
    ]
    try:
        busy, gone, spam, fine = pool.send_many(items)
    finally:
        pool.close()
    assert busy == SendResult.retry("451 4.3.0 mailbox busy, try again later")
    assert gone == SendResult.failed("550 5.1.1 <gone@example.fi>: user unknown")
    assert spam == SendResult.failed("554 5.7.1 message content rejected")
    # Each refusal ended its transaction only: the same session carried the next message.
    assert fine.status == "sent"
    assert [e.rcpt_tos for e in server.recorder.envelopes] == [["fine@example.fi"]]
    assert len(server.recorder.sessions) == 1


def test_server_down_is_a_retry_result_not_an_exception() -> None:
    pool = SmtpPool.from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2")
    try:
        results = pool.send_many([(SENDER, f"m{i}@example.fi", b"x\r\n") for i in range(3)])
    finally:
        pool.close()
    assert [r.status for r in results] == ["retry"] * 3
    assert "cannot connect" in results[0].reason


def test_reconnects_after_the_server_drops_the_connection(
    smtp_server: Callable[..., Server],
) -> None:
    server = smtp_server()
    pool = SmtpPool.from_url(server.url(), pool_size=1)
    try:
        assert pool.send(SENDER, "a@example.fi", marketing_email()).status == "sent"
        server.drop_connections()
        time.sleep(0.05)
        assert pool.send(SENDER, "b@example.fi", marketing_email()).status == "sent"
    finally:
        pool.close()
    assert [e.rcpt_tos for e in server.recorder.envelopes] == [["a@example.fi"], ["b@example.fi"]]
    assert len(server.recorder.sessions) == 2


def test_reconnects_after_the_server_times_out_an_idle_session(
    smtp_server: Callable[..., Server],
) -> None:
    server = smtp_server(timeout=0.2)  # the server says 421 and hangs up when idle
    pool = SmtpPool.from_url(server.url(), pool_size=1)
    try:
        assert pool.send(SENDER, "a@example.fi", marketing_email()).status == "sent"
        time.sleep(0.5)
        assert pool.send(SENDER, "b@example.fi", marketing_email()).status == "sent"
    finally:
        pool.close()
    assert len(server.recorder.envelopes) == 2


def test_starttls_with_a_trusted_certificate_and_auth(
    smtp_server: Callable[..., Server], cert: Cert
) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret/pass", handled=False)

    server = smtp_server(
        tls_context=cert.server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    url = server.url(
        userinfo="relay:s3cret%2Fpass@", query=f"starttls=require&cafile={cert.cafile}"
    )
    mailer = mailer_from_url(url)
    try:
        result = mailer.send(SENDER, "maija@example.fi", marketing_email())
    finally:
        mailer.close()
    assert result.status == "sent", result.reason
    assert logins == [(b"relay", b"s3cret/pass")]
    [session] = server.recorder.sessions
    assert session.ssl is not None  # the message went over the upgraded session


def test_certificates_are_verified_by_default(
    smtp_server: Callable[..., Server], cert: Cert
) -> None:
    server = smtp_server(tls_context=cert.server_context, require_starttls=True)
    mailer = mailer_from_url(server.url(query="timeout=5"))  # no cafile: system CAs only
    try:
        result = mailer.send(SENDER, "maija@example.fi", marketing_email())
    finally:
        mailer.close()
    assert result.status == "retry"
    assert "CERTIFICATE_VERIFY_FAILED" in result.reason
    assert server.recorder.envelopes == []


def test_starttls_required_but_not_offered_is_a_retry(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    mailer = mailer_from_url(server.url(query="starttls=require"))
    try:
        result = mailer.send(SENDER, "maija@example.fi", marketing_email())
    finally:
        mailer.close()
    assert result.status == "retry"
    assert "does not offer STARTTLS" in result.reason
    assert server.recorder.envelopes == []


@_AUTH_WITHOUT_TLS
def test_credentials_are_not_sent_in_clear_unless_the_url_allows_it(
    smtp_server: Callable[..., Server],
) -> None:
    def authenticator(*args: Any) -> AuthResult:
        return AuthResult(success=True)

    server = smtp_server(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    refused = mailer_from_url(server.url(userinfo="relay:pw@"))
    allowed = mailer_from_url(server.url(userinfo="relay:pw@", query="starttls=off"))
    try:
        assert (
            "refusing to send SMTP credentials" in refused.send(SENDER, "a@x.fi", b"x\r\n").reason
        )
        assert allowed.send(SENDER, "a@example.fi", marketing_email()).status == "sent"
    finally:
        refused.close()
        allowed.close()
    assert len(server.recorder.envelopes) == 1


@_AUTH_WITHOUT_TLS
def test_wrong_password_is_a_retry_not_a_failed_recipient(
    smtp_server: Callable[..., Server],
) -> None:
    def authenticator(*args: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    server = smtp_server(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    mailer = mailer_from_url(server.url(userinfo="relay:wrong@", query="starttls=off&timeout=5"))
    try:
        result = mailer.send(SENDER, "a@example.fi", marketing_email())
    finally:
        mailer.close()
    assert result.status == "retry"
    assert "535" in result.reason


def test_implicit_tls(smtp_server: Callable[..., Server], cert: Cert) -> None:
    server = smtp_server(ssl_context=cert.server_context)
    mailer = mailer_from_url(server.url("smtps", query=f"cafile={cert.cafile}"))
    try:
        result = mailer.send(SENDER, "maija@example.fi", marketing_email())
    finally:
        mailer.close()
    assert result.status == "sent", result.reason
    assert len(server.recorder.envelopes) == 1


@pytest.mark.parametrize(
    "url",
    [
        "smtp://",
        "smtp://relay.example.fi?pool=0",
        "smtp://relay.example.fi?timeout=soon",
        "smtp://relay.example.fi?starttls=maybe",
        "smtp://relay.example.fi?verify=no",
        "smtp://relay.example.fi:notaport",
    ],
)
def test_malformed_url_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(InputError) as caught:
        SmtpConfig.from_url(url)
    assert caught.value.where == "DISPATCH_MAILER_URL"


def test_url_defaults_and_password_stays_out_of_repr() -> None:
    config, size = SmtpConfig.from_url("smtps://u%40x:p%3Aw@relay.example.fi")
    assert (config.host, config.port, config.implicit_tls, size) == (
        "relay.example.fi",
        465,
        True,
        4,
    )
    assert (config.username, config.password) == ("u@x", "p:w")
    assert "p:w" not in repr(config)
    plain, _ = SmtpConfig.from_url("smtp://relay.example.fi")
    assert (plain.port, plain.starttls, plain.timeout) == (25, "auto", 30.0)


def test_send_many_returns_results_in_the_order_of_the_items(
    smtp_server: Callable[..., Server],
) -> None:
    server = smtp_server()
    server.recorder.permanent.update(f"m{i}@example.fi" for i in range(0, 40, 5))
    pool = SmtpPool.from_url(server.url(), pool_size=4)
    items = [(SENDER, f"m{i}@example.fi", marketing_email(member_id=i)) for i in range(40)]
    try:
        results = pool.send_many(items)
    finally:
        pool.close()
    assert [r.status for r in results] == ["failed" if i % 5 == 0 else "sent" for i in range(40)]
    assert results[5].reason == "550 5.1.1 <m5@example.fi>: user unknown"


def test_eight_bit_message_is_declared_and_arrives_unchanged(
    smtp_server: Callable[..., Server],
) -> None:
    server = smtp_server()
    message = (
        "From: uutiset@esimerkki.fi\r\nTo: maija@example.fi\r\nSubject: hei\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nKevään pyörätarjous\r\n"
    ).encode()
    mailer = mailer_from_url(server.url())
    try:
        assert mailer.send(SENDER, "maija@example.fi", message).status == "sent"
    finally:
        mailer.close()
    [envelope] = server.recorder.envelopes
    assert "BODY=8BITMIME" in envelope.mail_options
    assert envelope.original_content == message


def test_a_batch_against_a_down_server_does_not_wait_out_each_message(
    smtp_server: Callable[..., Server],
) -> None:
    port = free_port()
    pool = SmtpPool.from_url(f"smtp://127.0.0.1:{port}", pool_size=2, reconnect_delay=0.3)
    try:
        results = pool.send_many([(SENDER, f"m{i}@example.fi", b"x\r\n") for i in range(50)])
        assert {r.status for r in results} == {"retry"}
        assert sum(c.connects for c in pool.connections) == 0  # none got through
        server = smtp_server(port=port)
        # Within the delay the pool does not knock again; after it, it does.
        assert pool.send(SENDER, "a@example.fi", marketing_email()).status == "retry"
        assert server.recorder.sessions == []
        time.sleep(0.4)
        assert pool.send(SENDER, "a@example.fi", marketing_email()).status == "sent"
    finally:
        pool.close()


class ScriptedRelay:
    """A relay on a raw socket that answers only once a whole pipelined group is in:
    a client that waits for each answer before the next command stalls against it.

    ``rcpt_answer`` is what RCPT gets; DATA is answered 354 whatever came before (as
    a careless server might), so the client must end that message itself."""

    def __init__(self, rcpt_answer: bytes = b"250 OK") -> None:
        self.rcpt_answer = rcpt_answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.groups: list[bytes] = []
        self.messages: list[bytes] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(2)
                buf = b""

                def until(marker: bytes) -> bytes:
                    nonlocal buf
                    while marker not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            raise ConnectionError("client hung up")
                        buf += chunk
                    head, _, buf = buf.partition(marker)
                    return head + marker

                conn.sendall(b"220 scripted ESMTP\r\n")
                until(b"\r\n")  # EHLO
                conn.sendall(b"250-scripted\r\n250 PIPELINING\r\n")
                while True:
                    line = until(b"\r\n")
                    if line.upper().startswith(b"QUIT"):
                        conn.sendall(b"221 Bye\r\n")
                        return
                    if line.upper().startswith(b"RSET"):
                        conn.sendall(b"250 OK\r\n")
                        continue
                    group = line + until(b"DATA\r\n")  # stalls a lockstep client
                    self.groups.append(group)
                    conn.sendall(b"250 OK\r\n" + self.rcpt_answer + b"\r\n354 go ahead\r\n")
                    # The content ends at the first CRLF.CRLF, the DATA line's own CRLF
                    # included (so a lone "." right after the 354 is an empty message).
                    while not buf.startswith(b".\r\n") and b"\r\n.\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            raise ConnectionError("client hung up")
                        buf += chunk
                    if buf.startswith(b".\r\n"):
                        self.messages.append(b".\r\n")
                        buf = buf[3:]
                    else:
                        self.messages.append(until(b"\r\n.\r\n"))
                    conn.sendall(b"250 2.0.0 queued\r\n")
        except BaseException as exc:  # reported by the test
            self.error = exc

    def stop(self) -> None:
        self.thread.join(5)
        self.listener.close()


def test_mail_rcpt_and_data_go_in_one_write_to_a_server_that_offers_pipelining() -> None:
    relay = ScriptedRelay()
    pool = SmtpPool.from_url(f"smtp://127.0.0.1:{relay.port}?starttls=off&timeout=3", pool_size=1)
    try:
        results = pool.send_many([(SENDER, f"m{i}@example.fi", marketing_email()) for i in (1, 2)])
    finally:
        pool.close()
        relay.stop()
    assert relay.error is None
    assert [r.status for r in results] == ["sent", "sent"]
    assert relay.groups == [
        f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<m{i}@example.fi>\r\nDATA\r\n".encode() for i in (1, 2)
    ]
    assert [m.endswith(b"\r\n.\r\n") and b"\r\n..Piste" in m for m in relay.messages] == [True] * 2


def test_a_refused_recipient_is_not_sent_even_when_the_server_takes_data() -> None:
    relay = ScriptedRelay(rcpt_answer=b"550 5.1.1 user unknown")
    pool = SmtpPool.from_url(f"smtp://127.0.0.1:{relay.port}?starttls=off&timeout=3", pool_size=1)
    try:
        result = pool.send(SENDER, "gone@example.fi", marketing_email())
    finally:
        pool.close()
        relay.stop()
    assert relay.error is None
    assert result == SendResult.failed("550 5.1.1 user unknown")
    # Only the terminating dot went after the 354: no content reached the server.
    assert relay.messages == [b".\r\n"]
