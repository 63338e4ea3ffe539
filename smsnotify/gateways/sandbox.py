"""The embedded default gateway: behaves like a real provider without sending anything.

It accepts every message, then reports it delivered a moment later (polled through
``fetch_reports``, the way providers without webhooks work). A documented range of test
numbers fails exactly like a real provider would, mirroring Twilio's test credentials:

| To               | outcome                                              |
|------------------|------------------------------------------------------|
| +15005550001     | refused at once: 21211 invalid 'To' number           |
| +15005550002     | refused at once: 21612 cannot route to this number   |
| +15005550003     | refused at once: 21408 region not permitted          |
| +15005550004     | refused at once: 21610 recipient replied STOP        |
| +15005550009     | refused at once: 21614 not a mobile number           |
| +15005550010     | accepted, then undelivered: 30003 unreachable handset|
| +15005550011     | accepted, then failed: 30008 unknown error           |
| +15005550012     | provider busy (429) every time: retried, then failed |
| anything else    | accepted, delivered after SANDBOX_DELIVERY_SECONDS   |
"""

import datetime as dt
import uuid

from django.conf import settings
from django.utils import timezone

from .base import (
    BaseGateway,
    DeliveryReport,
    OutboundSms,
    PermanentGatewayError,
    RecipientOptedOut,
    SendResult,
    SentRef,
    TransientGatewayError,
    report_billed,
)

REFUSED = {
    "+15005550001": ("21211", "The 'To' number is not a valid phone number."),
    "+15005550002": ("21612", "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": ("21408", "Permission to send an SMS has not been enabled for the region indicated by the 'To' number."),
    "+15005550004": ("21610", "Attempt to send to unsubscribed recipient."),
    "+15005550009": ("21614", "'To' number is not a valid mobile number."),
}
NOT_DELIVERED = {
    "+15005550010": ("undelivered", "30003", "Unreachable destination handset."),
    "+15005550011": ("failed", "30008", "Unknown error."),
}
ALWAYS_BUSY = "+15005550012"


class SandboxGateway(BaseGateway):
    name = "sandbox"
    simulates_inbound = True

    def __init__(self, *args, delivery_seconds: float | None = None, **kwargs):
        self.delivery_delay = dt.timedelta(
            seconds=delivery_seconds if delivery_seconds is not None else getattr(settings, "SANDBOX_DELIVERY_SECONDS", 2)
        )
        self.poll_reports_after = self.delivery_delay
        super().__init__(*args, **kwargs)

    def send(self, sms: OutboundSms) -> SendResult:
        if sms.to in REFUSED:
            code, text = REFUSED[sms.to]
            raise (RecipientOptedOut if code == "21610" else PermanentGatewayError)(text, code=code)
        if sms.to == ALWAYS_BUSY:
            raise TransientGatewayError("Too many requests.", code="20429")
        return SendResult(provider_id=f"SB{uuid.uuid4().hex}")

    def fetch_reports(self, sent: list[SentRef]) -> list[DeliveryReport]:
        now = timezone.now()
        reports = []
        for ref in sent:
            if ref.sent_at and now - ref.sent_at < self.delivery_delay:
                continue
            if ref.to in NOT_DELIVERED:
                status, code, text = NOT_DELIVERED[ref.to]
                reports.append(DeliveryReport(ref.provider_id, status, error_code=code, error_text=text,
                                              billed=report_billed(status, code)))
            else:
                reports.append(DeliveryReport(ref.provider_id, "delivered"))
        return reports
