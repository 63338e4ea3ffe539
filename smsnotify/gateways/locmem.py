"""An in-memory gateway for tests, like django.core.mail's locmem backend.

``outbox`` collects every accepted SMS; ``errors`` lets a test make the next sends fail.
Both are emptied before every test (see tests/conftest.py).
"""

import itertools

from .base import BaseGateway, GatewayError, OutboundSms, SendResult

outbox: list[OutboundSms] = []
errors: list[GatewayError] = []
_ids = itertools.count(1)


def reset() -> None:
    outbox.clear()
    errors.clear()


class LocmemGateway(BaseGateway):
    name = "locmem"
    simulates_inbound = True

    def send(self, sms: OutboundSms) -> SendResult:
        if errors:
            raise errors.pop(0)
        outbox.append(sms)
        return SendResult(provider_id=f"LM{next(_ids)}")
