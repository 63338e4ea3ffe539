"""Short links: every web address in a customer's text becomes ``PUBLIC_SHORT_URL/<code>``, a code
of its own per text and recipient, so a click names the message (and so the customer and the
campaign) it came from. smsnotify/redirect.py answers the clicks.

Where: in the outbox, with the shop's other "as sent" rules (``outbox.sendable_text``), because
every text passes there — templates, automations, bulk sends, texts typed by hand — and the
message must store, count and price the text as sent. Estimates shorten the same way with a
placeholder code of the same length (codes have one length), so a page's parts and credits
are the sent text's; the real codes are drawn only when the messages are written, and their
rows are written in the same transaction (the outbox's ``_insert_links``: one INSERT per chunk
of messages; nothing when no text of it has an address).

The codes: 10 characters of [0-9A-Za-z] from the system's CSPRNG, 59.5 bits. With 10^7 live
codes a guess hits one in 8·10^10 tries: at 2,000 requests a second, a year and more per
hit, and what a hit reveals is a shop's public address. A collision between two codes (about
10^-11 per code written at that size) fails the unique index and the writer's transaction
rolls back whole, as a discount code's collision does; a scan or a bulk chunk is then run again.
"""

from __future__ import annotations

import re
import secrets
import string
from django.conf import settings

from .models import SmsSettings

CODE_LENGTH = 10
CODE_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
CODE_RE = re.compile(rf"[0-9A-Za-z]{{{CODE_LENGTH}}}")
# Estimates stand a placeholder in for the code drawn later: same length, same (GSM-7) alphabet.
PLACEHOLDER_CODE = "x" * CODE_LENGTH
_SPACE = len(CODE_ALPHABET) ** CODE_LENGTH

# A web address as a phone's messaging app links it: a scheme, then anything up to a space or a
# character no address holds as typed. Punctuation that ends a sentence is not part of it.
URL_RE = re.compile(r"\bhttps?://[^\s<>\"{}|\\^`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]"


def short_base() -> str:
    return settings.PUBLIC_SHORT_URL


def links_on(sms_settings: SmsSettings) -> bool:
    """Whether the shop's texts have their links shortened."""
    return bool(settings.PUBLIC_SHORT_URL) and sms_settings.shorten_links


def code_new() -> str:
    number = int.from_bytes(secrets.token_bytes(8)) % _SPACE
    code = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        code.append(CODE_ALPHABET[digit])
    return "".join(code)


def _address(match: re.Match) -> tuple[str, str]:
    """(the address, what follows it that is not part of it: a full stop, a closing bracket…)"""
    url = match.group(0)
    cut = len(url.rstrip(_TRAILING))
    # A closing bracket belongs to the address when it opens one too (Wikipedia's "…_(film)").
    while cut < len(url) and url[cut] == ")" and url[:cut].count("(") > url[:cut].count(")"):
        cut += 1
    return url[:cut], url[cut:]


def links_shorten(body: str, *, links: list[tuple[str, str]] | None = None) -> str:
    """``body`` with every web address replaced by a short link. With ``links`` (the outbox),
    each gets a new code and (code, address) is appended to it; without (an estimate), each
    gets the placeholder code. An address that is already one of our short links stays."""
    if "://" not in body:
        return body
    base = short_base()

    def shorten(match: re.Match) -> str:
        url, rest = _address(match)
        if url.startswith(base + "/") or url.lower() in ("http://", "https://"):
            return match.group(0)
        code = PLACEHOLDER_CODE
        if links is not None:
            code = code_new()
            links.append((code, url))
        return f"{base}/{code}{rest}"

    return URL_RE.sub(shorten, body)
