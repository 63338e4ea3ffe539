"""What a customer's text means: STOP, START, HELP, or YES to a request for marketing consent.

``SMS_INBOUND_HANDLER`` points here: smsnotify stores every incoming text, then calls
``inbound_handle`` inside the same transaction, which reads the words and files the text in
the merchant's inbox (campaigns/inbox.py). A provider that read the keyword itself
(Twilio's ``OptOutType``) is trusted first and has already answered it, so no reply of ours
is written then; otherwise the words below (one word, any case, surrounding punctuation
ignored) are read, and the answer goes out through the outbox in the shop's language.

After STOP the number gets the confirmation and then nothing at all (the ``OptedOut`` policy)
until it texts START (or YES).
"""

from __future__ import annotations

import datetime as dt
import string

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from shop.models import ConsentSource, Customer, MarketingConsent, Shop
from shop.services import customer_consent_record
from smsnotify.models import Kind, Message, Status
from smsnotify.outbox import message_schedule
from smsnotify.phones import InvalidPhoneNumber

from .inbox import inbound_record
from .models import MarketingSettings, OptOut
from .satisfaction import satisfaction_rating_record

# Twilio's defaults, and local words of the shops' languages.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
LOCAL_WORDS = {
    "pl": {"stop": {"NIE", "KONIEC", "REZYGNUJE", "REZYGNUJĘ"}, "start": {"TAK"}, "help": {"POMOC"}},
    "pt": {"stop": {"PARAR", "SAIR", "CANCELAR"}, "start": {"SIM", "INICIAR"}, "help": {"AJUDA"}},
}
YES_WORDS = {"YES", "TAK", "SIM"}
# A YES answers a request for consent sent within this long.
CONSENT_REQUEST_VALID = dt.timedelta(days=30)


def _word(body: str) -> str:
    return body.strip().strip(string.punctuation + "¡¿").strip().upper()


def keyword_of(body: str, *, language: str) -> str | None:
    """"stop", "start" or "help" when ``body`` is one of their words, else None."""
    word = _word(body)
    local = LOCAL_WORDS.get(language, {})
    for meaning, words in (("stop", STOP_WORDS), ("start", START_WORDS), ("help", HELP_WORDS)):
        if word in words or word in local.get(meaning, ()):
            return meaning
    return None


def _reply(message: Message, text: str) -> None:
    try:
        message_schedule(shop=message.shop, to=message.recipient, body=text, kind=Kind.KEYWORD_REPLY,
                         customer=message.customer, dedupe_key=f"reply:{message.pk}")
    except InvalidPhoneNumber:
        pass  # a short code or an alphanumeric sender cannot be answered


def _customers(shop: Shop, number: str):
    return Customer.objects.filter(shop=shop, phone=number)


def opt_out_record(*, shop: Shop, number: str, source: str = OptOut.Source.KEYWORD, keyword: str = "") -> OptOut:
    """Stop texting ``number``: nothing more leaves for it (any kind), and the marketing consent
    of its customers is withdrawn with it."""
    opt_out, _created = OptOut.objects.get_or_create(shop=shop, phone=number,
                                                     defaults={"source": source, "keyword": keyword[:30]})
    for customer in _customers(shop, number).exclude(marketing_consent=MarketingConsent.REVOKED):
        customer_consent_record(customer=customer, granted=False, source=ConsentSource.SMS)
    return opt_out


def opt_in_record(*, shop: Shop, number: str) -> bool:
    """The number may be texted again (its marketing consent is not given back by this)."""
    deleted, _rows = OptOut.objects.filter(shop=shop, phone=number).delete()
    return bool(deleted)


def consent_request_answered(*, shop: Shop, number: str) -> Message | None:
    """The request for consent a YES from ``number`` answers: the latest one that reached it
    (sent or delivered) within CONSENT_REQUEST_VALID; a cancelled or failed one asked nobody."""
    return (Message.objects.filter(shop=shop, kind=Kind.CONSENT_REQUEST, recipient=number,
                                   status__in=[Status.SENT, Status.DELIVERED],
                                   created_at__gte=timezone.now() - CONSENT_REQUEST_VALID)
            .order_by("-created_at", "-pk").first())


def help_text(shop: Shop) -> str:
    custom = MarketingSettings.objects.filter(shop=shop).values_list("help_reply", flat=True).first()
    return custom or _("%(shop)s: text messages about your orders and offers. Reply STOP to stop them, START to "
                       "get them again.") % {"shop": shop.name}


def inbound_handle(*, message: Message, opt_out_type: str = "") -> str | None:
    """Act on an incoming text, then file it in the inbox; returns what it meant ("stop",
    "start", "help", "consent", "rating") or None for an ordinary text. A keyword wins: a text
    that is one is never read as an answer to a satisfaction survey."""
    meaning = keyword_handle(message=message, opt_out_type=opt_out_type)
    if meaning is None and satisfaction_rating_record(message=message) is not None:
        meaning = "rating"
    inbound_record(message=message, keyword=meaning is not None)
    return meaning


def keyword_examples(language: str) -> list[str]:
    """The words a shop in ``language`` reacts to, for a hint: Twilio's best known, then the
    language's own (STOP, START, HELP, YES, NIE, KONIEC, …)."""
    local = LOCAL_WORDS.get(language, {})
    words = ["STOP", "START", "HELP", "YES"]
    words += [word for meaning in ("stop", "start", "help") for word in sorted(local.get(meaning, ()))]
    return list(dict.fromkeys(words))


# smsnotify knows this handler only by its dotted path (SMS_INBOUND_HANDLER); it finds the words it
# reads here, for the admin's "Simulate a text" hint (smsnotify.inbound.inbound_keywords).
inbound_handle.keywords = keyword_examples


def keyword_handle(*, message: Message, opt_out_type: str = "") -> str | None:
    """Answer STOP, START, HELP or YES; returns what the text meant, or None for an ordinary text."""
    shop, number = message.shop, message.recipient
    word = _word(message.body)
    with translation.override(shop.language):
        if opt_out_type:  # the provider read the keyword and has answered it itself
            meaning = {"STOP": "stop", "START": "start", "HELP": "help"}.get(opt_out_type)
        else:
            meaning = keyword_of(message.body, language=shop.language)
        answer = not opt_out_type
        request = consent_request_answered(shop=shop, number=number) if meaning == "start" and word in YES_WORDS \
            else None
        if request is not None:
            opt_in_record(shop=shop, number=number)
            for customer in _customers(shop, number):  # the proof: the question asked, and the answer
                customer_consent_record(customer=customer, granted=True, source=ConsentSource.SMS,
                                        text=f"{request.body}\n> {message.body.strip()}"[:2000])
            _reply(message, _("%(shop)s: thank you! You will get our offers by text. Reply STOP to stop them.")
                   % {"shop": shop.name})
            return "consent"
        if meaning == "stop":
            source = OptOut.Source.PROVIDER if opt_out_type else OptOut.Source.KEYWORD
            opt_out_record(shop=shop, number=number, source=source, keyword=word)
            if answer:
                _reply(message, _("%(shop)s: you will get no more texts from us. Reply START to get them again.")
                       % {"shop": shop.name})
        elif meaning == "start":
            opt_in_record(shop=shop, number=number)
            if answer:
                _reply(message, _("%(shop)s: you will get our texts again. Reply STOP to stop them.")
                       % {"shop": shop.name})
        elif meaning == "help" and answer:
            _reply(message, help_text(shop))
        return meaning


def consent_request_send(*, customer: Customer) -> Message | None:
    """Ask ``customer`` by text for marketing consent (double opt-in: a YES reply grants it). None
    for a customer without a number, who opted out or withdrew consent (asking again would be
    the very text they refused), or who already agreed."""
    shop = customer.shop
    if not customer.phone or customer.marketing_consent != MarketingConsent.UNKNOWN:
        return None
    if OptOut.objects.filter(shop=shop, phone=str(customer.phone)).exists():
        return None
    with translation.override(shop.language):
        text = _("%(shop)s: would you like our offers by text? Reply YES to agree, STOP to opt out.") % {
            "shop": shop.name}
    try:
        return message_schedule(shop=shop, to=customer.phone, body=text, kind=Kind.CONSENT_REQUEST,
                                customer=customer, dedupe_key=f"consent:customer:{customer.pk}:{timezone.now():%Y%m}")
    except InvalidPhoneNumber:
        return None
