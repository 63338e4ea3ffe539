"""A provider's error codes in a merchant's words.

Twilio's codes, which the sandbox mirrors; the codes our Twilio backend gives a failure that
never reached Twilio (``connect``, ``url``, ``timeout`` …) too. A code not listed here is shown
as the provider wrote it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

PLAIN_WORDS = {
    "21211": _("the number is not valid"),
    "21612": _("the provider cannot reach this number by SMS from your sender"),
    "21408": _("texts to this country are not enabled on the SMS account"),
    "21610": _("this number replied STOP to your sender and gets no more texts from it"),
    "21614": _("the number is not a mobile number"),
    "21212": _("the sender is not valid for the provider"),
    "21606": _("the sender cannot send SMS with the provider"),
    "21617": _("the text is too long"),
    "20003": _("the provider refused the SMS account's credentials"),
    "20429": _("the provider is busy"),
    "429": _("the provider is busy"),
    "connect": _("the SMS provider could not be reached"),
    "url": _("the SMS provider could not be reached"),
    "timeout": _("no answer from the SMS provider in time"),
    "connection": _("the connection to the SMS provider broke off"),
    "response": _("the SMS provider's answer could not be read"),
    "unexpected": _("an unexpected error with the SMS provider"),
}


def provider_error_words(code: str, text: str) -> str:
    """What the provider said, in the active language where the code is known."""
    words = PLAIN_WORDS.get(code)
    if words is not None:
        return f"{words} ({code})"
    if code and text:
        return f"{text} ({code})"
    return text or code
