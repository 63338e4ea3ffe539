"""A gateway that writes each SMS to a stream (stdout by default) instead of sending it."""

import sys
import threading
import uuid

from .base import BaseGateway, OutboundSms, SendResult


class ConsoleGateway(BaseGateway):
    name = "console"
    simulates_inbound = True

    def __init__(self, *args, stream=None, **kwargs):
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()
        super().__init__(*args, **kwargs)

    def send(self, sms: OutboundSms) -> SendResult:
        with self._lock:
            self.stream.write(f"SMS {sms.reference} from {sms.sender or '(default)'} to {sms.to}:\n{sms.body}\n{'-' * 40}\n")
            self.stream.flush()
        return SendResult(provider_id=f"console-{uuid.uuid4().hex[:16]}")
