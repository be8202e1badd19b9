"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives and can be told
to answer the next messages with an error reply."""
from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass
from email.message import Message

from aiosmtpd.controller import Controller


@dataclass
class Received:
    recipients: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(email.header.make_header(email.header.decode_header(self.message["Subject"])))

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        return ""


class RecordingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: list[str] = []  # answered to the next DATA commands, in order
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
            self.received.append(Received(recipients=list(envelope.rcpt_tos),
                                          message=email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.handler = RecordingHandler()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Received]:
        with self.handler.lock:
            return [r for r in self.handler.received if address in r.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.to(address)) >= count:
                return self.to(address)
            time.sleep(0.1)
        raise AssertionError(f"{count} email(s) to {address} not received in {timeout}s: {len(self.to(address))}")
