"""A small IMAP4rev1 server on loopback, enough for `digest bounces fetch`: LOGIN, SELECT, UID SEARCH
UNSEEN, UID FETCH (BODY.PEEK[]<0.N>), UID STORE +FLAGS (\\Seen), LOGOUT. It keeps one folder of
messages with their \\Seen flags, and refuses a wrong password as a real server does."""

from __future__ import annotations

import re
import socket
import threading

from tests.smtp_server import free_port


class ImapServer:
    def __init__(self, user: str, password: str, folder: str, messages: list[bytes]):
        self.user, self.password, self.folder = user, password, folder
        self.messages = {uid: raw for uid, raw in enumerate(messages, start=1)}
        self.seen: set[int] = set()
        self.host, self.port = "127.0.0.1", free_port()
        self._listener = socket.create_server((self.host, self.port))
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> ImapServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._listener.close()

    def url(self, password: str | None = None) -> str:
        return f"imap://{self.user}:{password or self.password}@{self.host}:{self.port}/{self.folder}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:
            connection.sendall(b"* OK test IMAP ready\r\n")
            for line in iter(reader.readline, b""):
                tag, _, command = line.decode().strip().partition(" ")
                reply = self._answer(command)
                status = f"{tag} {'OK' if reply is not None else 'NO'} done\r\n".encode()
                connection.sendall((reply or b"") + status)
                if command.upper().startswith("LOGOUT"):
                    return

    def _answer(self, command: str) -> bytes | None:
        verb = command.split(" ")[0].upper()
        if verb == "LOGIN":
            given = [part.strip('"') for part in command.split(" ")[1:3]]
            return b"" if given == [self.user, self.password] else None
        if verb == "SELECT":
            return f"* {len(self.messages)} EXISTS\r\n".encode() if self.folder in command else None
        if verb in ("LOGOUT", "CAPABILITY", "NOOP"):
            return b"* BYE\r\n" if verb == "LOGOUT" else b"* CAPABILITY IMAP4rev1\r\n"
        if command.upper().startswith("UID SEARCH"):
            unseen = " ".join(str(uid) for uid in self.messages if uid not in self.seen)
            return f"* SEARCH {unseen}\r\n".encode()
        if command.upper().startswith("UID FETCH"):
            uid = int(command.split(" ")[2])
            size = int(re.search(r"<0\.(\d+)>", command)[1])
            body = self.messages[uid][:size]
            return f"* {uid} FETCH (UID {uid} BODY[]<0> {{{len(body)}}}\r\n".encode() + body + b")\r\n"
        if command.upper().startswith("UID STORE"):
            self.seen.add(int(command.split(" ")[2]))
            return b""
        return None
