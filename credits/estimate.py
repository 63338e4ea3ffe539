"""The one estimate of an SMS: the text as it will be sent, its encoding, parts and credits.

Every place that tells a merchant what a text costs (the template editor, the send pages,
the bulk page, the alerts) and the charge itself call ``sms_estimate``, so what a page shows
is what the ledger takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.models import Shop
from smsnotify.encoding import SegmentInfo, segment_info
from smsnotify.models import SmsSettings
from smsnotify.outbox import sendable_text
from smsnotify.selectors import sms_settings_for

from .pricing import calling_code_of_number, calling_code_of_region, segment_rate


@dataclass(frozen=True, slots=True)
class SmsEstimate:
    text: str  # as it will be sent (the shop's "replace special characters" applied)
    info: SegmentInfo  # encoding, parts, room left in the last part
    calling_code: int | None  # of the destination; None when the number cannot be read
    rate: int  # credits per part to that destination
    credits: int

    @property
    def encoding(self) -> str:
        return self.info.encoding

    @property
    def segments(self) -> int:
        return self.info.segments


def sms_estimate(*, shop: Shop, text: str, recipient: str | None = None, calling_code: int | None = None,
                 as_sent: bool = False, sms_settings: SmsSettings | None = None) -> SmsEstimate:
    """What sending ``text`` from ``shop`` costs.

    The destination is ``recipient`` (E.164), else ``calling_code``, else a number in the
    shop's own country (what most customers have, so the editor prices that). ``as_sent``
    says the text is already stored as it will be sent (a Message's body): the shop's
    options are not applied again, so a setting changed since cannot change the price.
    """
    if recipient is not None:
        calling_code = calling_code_of_number(recipient)
    elif calling_code is None:
        calling_code = calling_code_of_region(shop.country) or None
    if not as_sent:
        text = sendable_text(sms_settings or sms_settings_for(shop), text)
    info = segment_info(text)
    rate = segment_rate(shop=shop, calling_code=calling_code)
    return SmsEstimate(text=text, info=info, calling_code=calling_code, rate=rate, credits=rate * max(info.segments, 1))
