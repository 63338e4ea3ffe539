"""A provider's error codes in a merchant's words.

Twilio's codes, which the sandbox mirrors; the codes our Twilio backend gives a failure that
never reached Twilio (``connect``, ``url``, ``timeout`` …) too. A code not listed here is shown
as the provider wrote it. Where a merchant reads a failure, the provider's own words stay beside
ours (``provider_answer``): support and the provider's documentation need them verbatim.
"""

from __future__ import annotations

from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy as _

PLAIN_WORDS = {
    "21211": _("the number is not valid"),
    "21612": _("the provider cannot reach this number by SMS from your sender"),
    "21408": _("texts to this country are not enabled on the SMS account"),
    "21610": _("this number replied STOP to your sender and gets no more texts from it"),
    "21614": _("the number is not a mobile number"),
    "21212": _("the sender is not valid for the provider"),
    "21606": _("the sender cannot send SMS with the provider"),
    "21617": _("the text is too long"),
    "21611": _("too many texts from your sender are waiting at the provider"),
    "20003": _("the provider refused the SMS account's credentials"),
    "20429": _("the provider is busy"),
    "429": _("the provider is busy"),
    # Delivery reports: the provider took the text, the network did not deliver it.
    "30001": _("too many texts from your sender are waiting at the provider"),
    "30002": _("the SMS account is suspended"),
    "30003": _("the phone could not be reached (switched off or out of coverage)"),
    "30004": _("the recipient or their network blocks texts from your sender"),
    "30005": _("the number does not exist or is no longer in use"),
    "30006": _("the number is a landline or its network cannot receive texts"),
    "30007": _("the recipient's network filtered the text (for example as spam)"),
    "30008": _("the recipient's network reported an unknown error"),
    "connect": _("the SMS provider could not be reached"),
    "url": _("the SMS provider could not be reached"),
    "timeout": _("no answer from the SMS provider in time"),
    "connection": _("the connection to the SMS provider broke off"),
    "response": _("the SMS provider's answer could not be read"),
    "unexpected": _("an unexpected error with the SMS provider"),
}


def provider_error_reason(code: str) -> str:
    """The code's meaning in the active language, as a sentence's start ("The number is not a
    mobile number"); "" for a code not listed (then only the provider's own words say why)."""
    words = PLAIN_WORDS.get(code)
    return capfirst(str(words)) if words is not None else ""


def provider_answer(code: str, text: str) -> str:
    """The provider's own words and code, introduced in the active language: support and the
    provider's documentation need them verbatim, whatever the shop's language."""
    if text and code:
        return gettext("Provider's answer: “%(text)s” (%(code)s)") % {"text": text, "code": code}
    if text:
        return gettext("Provider's answer: “%(text)s”") % {"text": text}
    if code:
        return gettext("Provider's error code: %(code)s") % {"code": code}
    return ""


def provider_error_words(code: str, text: str) -> str:
    """What the provider said, in the active language where the code is known."""
    words = PLAIN_WORDS.get(code)
    if words is not None:
        return f"{words} ({code})"
    if code and text:
        return f"{text} ({code})"
    return text or code
