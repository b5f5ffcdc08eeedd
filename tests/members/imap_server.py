"""A small IMAP4rev1 server for tests, on loopback, written with socketserver.

No IMAP server is installed on the test machines and none may be downloaded, so the
IMAP side of ``dispatch mailer inbound`` is tested against this one: it speaks the
part of RFC 3501 the client uses (CAPABILITY, LOGIN, SELECT, UID SEARCH UNSEEN,
UID FETCH BODY.PEEK[], UID STORE +FLAGS, EXPUNGE, CLOSE, LOGOUT) on the wire, with
tags, quoted strings and literals, to the standard library's :mod:`imaplib`. It
keeps one folder; sequence numbers equal UIDs (nothing is renumbered before the
client's last EXPUNGE). It stands in for a service outside our contract; what the
test checks is what the client asks for and what it leaves in the folder.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field

_COMMAND = re.compile(rb"^(\S+) (\S+)(?: (.*))?$")


@dataclass
class Folder:
    name: str = "INBOX"
    user: str = "unsubscribe"
    password: str = "secret pass"
    #: uid -> (message, flags)
    messages: dict[int, tuple[bytes, set[str]]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, message: bytes) -> int:
        with self.lock:
            uid = max(self.messages, default=0) + 1
            self.messages[uid] = (message, set())
            return uid

    def flags(self, uid: int) -> set[str]:
        return set(self.messages[uid][1]) if uid in self.messages else set()


def _args(text: bytes) -> list[str]:
    """IMAP atoms and quoted strings of a command line."""
    return [
        (quoted.replace(b'\\"', b'"').replace(b"\\\\", b"\\") if quoted else atom).decode()
        for quoted, atom in re.findall(rb'"((?:[^"\\]|\\.)*)"|(\S+)', text)
    ]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def send(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self) -> None:
        folder = self.server.folder
        self.send(b"* OK test IMAP4rev1 server ready")
        authenticated = selected = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            found = _COMMAND.match(line.rstrip(b"\r\n"))
            if not found:
                self.send(b"* BAD unparsable command")
                continue
            tag, verb, rest = found.group(1), found.group(2).upper(), found.group(3) or b""
            folder.commands.append(f"{verb.decode()} {rest.decode(errors='replace')}".strip())
            if verb == b"CAPABILITY":
                self.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            elif verb == b"LOGIN":
                user, password = _args(rest)[:2]
                if (user, password) != (folder.user, folder.password):
                    self.send(tag + b" NO [AUTHENTICATIONFAILED] invalid credentials")
                    continue
                authenticated = True
            elif verb == b"LOGOUT":
                self.send(b"* BYE logging out")
                self.send(tag + b" OK LOGOUT completed")
                return
            elif not authenticated:
                self.send(tag + b" NO log in first")
                continue
            elif verb == b"SELECT":
                if _args(rest)[0] != folder.name:
                    self.send(tag + b" NO no such folder")
                    continue
                selected = True
                self.send(b"* %d EXISTS" % len(folder.messages))
                self.send(b"* FLAGS (\\Seen \\Deleted)")
                self.send(tag + b" OK [READ-WRITE] SELECT completed")
                continue
            elif not selected:
                self.send(tag + b" NO select a folder first")
                continue
            elif verb == b"UID":
                self.uid(tag, rest)
                continue
            elif verb in {b"EXPUNGE", b"CLOSE"}:
                with folder.lock:
                    for uid in sorted(folder.messages, reverse=True):
                        if "\\Deleted" in folder.messages[uid][1]:
                            del folder.messages[uid]
                            if verb == b"EXPUNGE":
                                self.send(b"* %d EXPUNGE" % uid)
                selected = selected and verb != b"CLOSE"
            else:
                self.send(tag + b" BAD unknown command")
                continue
            self.send(tag + b" OK " + verb + b" completed")

    def uid(self, tag: bytes, rest: bytes) -> None:
        folder = self.server.folder
        args = _args(rest)
        command = args[0].upper()
        if command == "SEARCH" and args[1:] == ["UNSEEN"]:
            uids = [u for u, (_, flags) in sorted(folder.messages.items()) if "\\Seen" not in flags]
            self.send(b"* SEARCH" + b"".join(b" %d" % u for u in uids))
        elif command == "FETCH" and args[2].upper() == "(BODY.PEEK[])":
            uid = int(args[1])
            if uid in folder.messages:
                body = folder.messages[uid][0]
                self.wfile.write(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (uid, uid, len(body)))
                self.wfile.write(body + b")\r\n")
        elif command == "STORE" and args[2].upper() == "+FLAGS":
            uid = int(args[1])
            added = set(" ".join(args[3:]).strip("()").split())
            with folder.lock:
                if uid in folder.messages:
                    folder.messages[uid][1].update(added)
                    flags = " ".join(sorted(folder.messages[uid][1])).encode()
                    self.send(b"* %d FETCH (FLAGS (%s) UID %d)" % (uid, flags, uid))
        else:
            self.send(tag + b" BAD unsupported UID command")
            return
        self.send(tag + b" OK UID " + command.encode() + b" completed")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, folder: Folder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = folder


class ImapServer:
    """``with ImapServer() as server:`` serves ``server.folder`` on ``server.port``."""

    def __init__(self) -> None:
        self.folder = Folder()
        self._server = _Server(self.folder)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, password: str | None = None) -> str:
        secret = (password or self.folder.password).replace(" ", "%20")
        return f"imap://{self.folder.user}:{secret}@127.0.0.1:{self.port}/INBOX?starttls=off"

    def __enter__(self) -> ImapServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
