"""One-time codes for the storefront's accounts, on the model of Twilio Verify.

The rules, each answered by ``CodeRefused`` with its reason and the time to wait:

- A code is 6 random digits (``secrets``). Only an HMAC-SHA256 of it is stored, keyed by
  SECRET_KEY and salted per code: reading the database gives nobody a code, and the comparison is
  constant-time. It works for 10 minutes (``CODE_TTL``); 5 wrong tries void it (``CODE_MAX_TRIES``);
  a new code for the same address and purpose replaces the last one (only the newest works).
- Per address (number or email), whatever the purpose: a new code after 30 seconds, at most 3 in
  an hour. Per IP address and per visitor's session: at most STOREFRONT_CODES_PER_IP_PER_HOUR and
  STOREFRONT_CODES_PER_SESSION_PER_HOUR in an hour.
- Against SMS pumping (codes asked for premium or foreign numbers, which earns the fraudster from
  the traffic), for texts only: the number must be a mobile of a country the shop allows
  (AccountSettings, default the shop's own country); at most STOREFRONT_CODES_PER_RANGE_PER_HOUR
  different numbers of one range (the same digits but the last two) get codes in an hour; and the
  shop texts at most ``AccountSettings.codes_per_hour`` codes an hour. The first refusal of an hour
  by that ceiling tells the merchant (the store event ``code_ceiling_reached``: campaigns texts or
  emails them) and the operator (an ERROR log line and ``mail_admins``).
- Every refusal is logged and kept as a CodeRefusal row (repeats on one row), which the merchant
  lists in the admin.

What is counted is what was issued, in the database (not in the cache): the waits are exact, every
process counts the same, and a refused request costs one row at most. Issuing is serialised per
shop (its AccountSettings row is locked), so two quick requests cannot both slip under a limit.

No answer tells whether an address has an account: a code is issued, counted and limited the
same way whether or not one exists (``deliver=False`` counts a code that is not sent, for an email
address no account has: see shop/accounts.py).

The text itself is written by the receivers of ``verification_code_issued`` (campaigns: the
shop's "Sign-up code" template, a Kind.VERIFICATION_CODE message in the codes lane), in this
transaction; one that cannot send it (SMS off, no credits) raises ``CodeUnavailable`` and nothing
is kept. An emailed code is made and sent by a task (shop/tasks.py), so that answering takes the
same time whether or not the address gets an email.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import secrets

import phonenumbers
from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _, ngettext

from . import events
from .models import (
    AccountSettings,
    CodeChannel,
    CodeRefusal,
    CodeState,
    Customer,
    RefusalReason,
    Shop,
    VerificationCode,
)

log = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=10)
CODE_MAX_TRIES = 5
RESEND_AFTER = dt.timedelta(seconds=30)
PER_ADDRESS_PER_HOUR = 3
HOUR = dt.timedelta(hours=1)
RANGE_DIGITS = 2  # a range: numbers that differ only in their last two digits

# Mobile numbers only: a premium-rate or shared-cost number is where SMS pumping earns.
_TEXTABLE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


class CodeUnavailable(Exception):
    """Raised by a receiver of ``verification_code_issued`` that cannot send the code now."""


class CodeRefused(Exception):
    """A code request the rules refuse; ``message`` says why and how long to wait."""

    def __init__(self, reason: str, wait_seconds: int = 0, countries: list[str] = ()):
        super().__init__(reason)
        self.reason, self.wait_seconds, self.countries = reason, max(0, int(wait_seconds)), list(countries)
        self.limit = 0  # the ceiling, for SHOP_CEILING

    @property
    def message(self) -> str:
        wait = wait_text(self.wait_seconds)
        texts = {
            RefusalReason.COUNTRY: _("We cannot text codes to numbers in this country. Use a mobile number from: "
                                     "%(countries)s.") % {"countries": ", ".join(self.countries)},
            RefusalReason.NOT_TEXTABLE: _("We can only text codes to mobile numbers. Enter a mobile number."),
            RefusalReason.TOO_SOON: _("A code was just sent. You can ask for a new one in %(wait)s.") % {"wait": wait},
            RefusalReason.NUMBER_HOURLY: _("You have asked for %(count)d codes for this address within an hour. "
                                           "You can ask for a new one in %(wait)s.") % {
                "count": PER_ADDRESS_PER_HOUR, "wait": wait},
            RefusalReason.IP_HOURLY: _("Too many codes were asked for from your network. Please try again in "
                                       "%(wait)s.") % {"wait": wait},
            RefusalReason.SESSION_HOURLY: _("You have asked for too many codes. Please try again in %(wait)s.")
            % {"wait": wait},
            RefusalReason.RANGE: _("We cannot text a code to this number now. Please try again in %(wait)s.")
            % {"wait": wait},
            RefusalReason.SHOP_CEILING: _("We cannot send codes now. Please try again in %(wait)s.") % {"wait": wait},
        }
        return texts.get(self.reason, _("We cannot send codes now. Please try again later."))


class CodeInvalid(Exception):
    """The code entered does not open anything; ``message`` says what to do."""

    def __init__(self, reason: str, tries_left: int = 0):
        super().__init__(reason)
        self.reason, self.tries_left = reason, tries_left

    @property
    def message(self) -> str:
        if self.reason == "wrong":
            return ngettext("This code is not right. You have %(count)d more try.",
                            "This code is not right. You have %(count)d more tries.",
                            self.tries_left) % {"count": self.tries_left}
        if self.reason == "voided":
            return _("Too many wrong tries: this code no longer works. Ask for a new code.")
        if self.reason == "expired":
            return _("This code has expired. Ask for a new code.")
        return _("There is no code waiting for this address. Ask for a new code.")


def wait_text(seconds: int) -> str:
    """"25 seconds", "12 minutes": how long to wait, rounded up."""
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def code_hash(*, salt: str, address: str, code: str) -> str:
    return salted_hmac("shop.verification.code", f"{salt}:{address}:{code}", algorithm="sha256").hexdigest()


def session_hash(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest() if session_key else ""


def _new_secret() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def range_prefix(number: str) -> str:
    """The range a number belongs to: all but its last digits."""
    return number[:-RANGE_DIGITS]


# --- issuing ---------------------------------------------------------------------------------


def verification_code_send(*, shop: Shop, channel: str, address: str, purpose: str,
                           customer: Customer | None = None, ip: str | None = None, session_key: str = "",
                           deliver: bool = True) -> VerificationCode:
    """Issue a code for ``address`` (an E.164 number or a lower-case email address) and send it.

    Raises ``CodeRefused`` (logged and kept as a CodeRefusal) when a rule says no. With
    ``deliver=False`` the code is issued and counted but nobody gets it."""
    try:
        with transaction.atomic():
            return _issue(shop=shop, channel=channel, address=address, purpose=purpose, customer=customer, ip=ip,
                          session_key=session_key, deliver=deliver)
    except CodeRefused as refused:
        with transaction.atomic():
            if refused.reason == RefusalReason.SHOP_CEILING:
                _ceiling_alert(shop=shop, limit=refused.limit)
            _refusal_record(shop=shop, refused=refused, channel=channel, purpose=purpose, address=address, ip=ip)
        raise
    except CodeUnavailable:
        refused = CodeRefused(RefusalReason.UNAVAILABLE)
        with transaction.atomic():
            _refusal_record(shop=shop, refused=refused, channel=channel, purpose=purpose, address=address, ip=ip)
        raise refused from None


def _issue(*, shop, channel, address, purpose, customer, ip, session_key, deliver) -> VerificationCode:
    rules = AccountSettings.objects.select_for_update().filter(shop=shop).first()
    if rules is None:  # a shop made before its row (the migration makes them): the defaults
        rules, _created = AccountSettings.objects.get_or_create(shop=shop)
    rules.shop = shop
    now = timezone.now()
    hour_ago = now - HOUR
    if channel == CodeChannel.SMS:
        _check_number(address, rules)
    issued = VerificationCode.objects.filter(shop=shop, created_at__gt=hour_ago)
    same_address = issued.filter(address=address)
    last = same_address.order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and now - last < RESEND_AFTER:
        raise CodeRefused(RefusalReason.TOO_SOON, _seconds_until(last + RESEND_AFTER, now))
    _check_window(same_address, PER_ADDRESS_PER_HOUR, RefusalReason.NUMBER_HOURLY, now)
    visitor = session_hash(session_key)
    if visitor:
        _check_window(issued.filter(session_hash=visitor), settings.STOREFRONT_CODES_PER_SESSION_PER_HOUR,
                      RefusalReason.SESSION_HOURLY, now)
    if ip:
        _check_window(issued.filter(ip=ip), settings.STOREFRONT_CODES_PER_IP_PER_HOUR, RefusalReason.IP_HOURLY, now)
    if channel == CodeChannel.SMS:
        _check_range(issued, address, now)
        _check_ceiling(issued.filter(channel=CodeChannel.SMS), rules, now)

    # Only the newest code for an address and purpose works.
    VerificationCode.objects.filter(shop=shop, channel=channel, address=address, purpose=purpose,
                                    state=CodeState.ACTIVE).update(state=CodeState.REPLACED)
    secret, salt = _new_secret(), secrets.token_hex(16)
    code = VerificationCode.objects.create(
        shop=shop, channel=channel, purpose=purpose, address=address, customer=customer, salt=salt,
        # An emailed code is made by its task (shop/tasks.py): until then no code matches "".
        code_hash=code_hash(salt=salt, address=address, code=secret) if channel == CodeChannel.SMS else "",
        created_at=now, expires_at=now + CODE_TTL, ip=ip, session_hash=visitor,
    )
    if channel == CodeChannel.SMS:
        if deliver:
            events.verification_code_issued.send(sender=Shop, code=code, secret=secret)
    else:
        from .tasks import email_code_send  # the task module imports this one

        code_id = code.pk
        transaction.on_commit(lambda: email_code_send.apply_async((code_id, deliver), queue="sms.codes"))
    return code


def _check_number(number: str, rules: AccountSettings) -> None:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise CodeRefused(RefusalReason.NOT_TEXTABLE) from None
    allowed = rules.allowed_countries()
    # By region, not by calling code: +1 is shared by the US and Canada, which a shop may allow apart.
    if phonenumbers.region_code_for_number(parsed) not in allowed:
        raise CodeRefused(RefusalReason.COUNTRY, countries=allowed)
    if phonenumbers.number_type(parsed) not in _TEXTABLE:
        raise CodeRefused(RefusalReason.NOT_TEXTABLE)


def _check_window(rows, limit: int, reason: str, now: dt.datetime) -> None:
    """At most ``limit`` of ``rows`` (issued in the last hour): past it, wait until the oldest is an hour old."""
    if limit <= 0:  # an operator's 0: nothing of this kind is sent
        raise CodeRefused(reason, int(HOUR.total_seconds()))
    times = list(rows.order_by("-created_at").values_list("created_at", flat=True)[:limit])
    if len(times) >= limit:
        raise CodeRefused(reason, _seconds_until(times[-1] + HOUR, now))


def _check_range(issued, number: str, now: dt.datetime) -> None:
    limit = settings.STOREFRONT_CODES_PER_RANGE_PER_HOUR
    neighbours = (issued.filter(channel=CodeChannel.SMS, address__startswith=range_prefix(number))
                  .exclude(address=number).values("address").order_by().distinct().count())
    if neighbours >= limit:
        oldest = (issued.filter(channel=CodeChannel.SMS, address__startswith=range_prefix(number))
                  .order_by("created_at").values_list("created_at", flat=True).first())
        raise CodeRefused(RefusalReason.RANGE, _seconds_until(oldest + HOUR, now))


def _check_ceiling(texts, rules: AccountSettings, now: dt.datetime) -> None:
    limit = rules.codes_per_hour
    times = list(texts.order_by("-created_at").values_list("created_at", flat=True)[:limit])
    if limit > 0 and len(times) < limit:
        return
    refused = CodeRefused(RefusalReason.SHOP_CEILING,
                          _seconds_until(times[-1] + HOUR, now) if times else int(HOUR.total_seconds()))
    refused.limit = limit
    raise refused


def _ceiling_alert(*, shop: Shop, limit: int) -> None:
    """Tell the merchant and the operator, at the first refusal of an hour by the ceiling (after
    the refused request's own transaction: what the alert writes must not roll back with it)."""
    # Once per shop and clock hour, also during a long attack (each refusal moves a refusal's
    # last_at on, so "a refusal within the hour" would alert only once for all of it).
    if not cache.add(f"code-ceiling-alert:{shop.pk}:{timezone.now():%Y%m%d%H}", 1, int(HOUR.total_seconds()) + 60):
        return
    log.error("Shop %s (%s) reached its ceiling of %s code texts an hour: code requests are refused.",
              shop.pk, shop.slug, limit)
    mail_admins(f"Shop {shop.slug}: code text ceiling reached",
                f"Shop {shop.name} (id {shop.pk}) texted {limit} verification codes within an hour. Further "
                f"code requests are refused until the hour is over; see its refused code requests.",
                fail_silently=True)
    events.code_ceiling_reached.send(sender=Shop, shop=shop, limit=limit)


def _refusal_record(*, shop: Shop, refused: CodeRefused, channel: str, purpose: str, address: str,
                    ip: str | None) -> None:
    log.warning("Code request refused for shop %s: %s (%s %s, IP %s, wait %ss)", shop.pk, refused.reason, channel,
                address, ip, refused.wait_seconds)
    now = timezone.now()
    repeated = CodeRefusal.objects.filter(shop=shop, reason=refused.reason, address=address, ip=ip,
                                          last_at__gt=now - HOUR).order_by("-last_at").values_list("pk", flat=True)[:1]
    if not CodeRefusal.objects.filter(pk__in=list(repeated)).update(times=F("times") + 1, last_at=now):
        CodeRefusal.objects.create(shop=shop, reason=refused.reason, channel=channel, purpose=purpose,
                                   address=address, ip=ip, created_at=now, last_at=now)


# --- checking --------------------------------------------------------------------------------


def verification_code_check(*, shop: Shop, channel: str, address: str, purpose: str, code: str,
                            customer: Customer | None = None) -> VerificationCode:
    """The code entered for ``address``, used up when right; ``CodeInvalid`` otherwise.

    Each try is counted in its own transaction before the comparison: call it outside a
    transaction that the caller rolls back on a wrong code, or the count would be undone."""
    code = "".join(code.split())
    latest = VerificationCode.objects.filter(shop=shop, channel=channel, address=address, purpose=purpose)
    if customer is not None:
        latest = latest.filter(customer=customer)
    row = latest.order_by("-created_at", "-pk").first()
    now = timezone.now()
    if row is None or row.state in (CodeState.USED, CodeState.REPLACED):
        _hash_anyway(address, code)  # the same work as a real comparison
        raise CodeInvalid("missing")
    if row.state == CodeState.VOIDED:
        raise CodeInvalid("voided")
    if row.expires_at <= now:
        raise CodeInvalid("expired")
    counted = VerificationCode.objects.filter(pk=row.pk, state=CodeState.ACTIVE, attempts__lt=CODE_MAX_TRIES).update(
        attempts=F("attempts") + 1)
    if not counted:
        raise CodeInvalid("voided")
    attempts = row.attempts + 1
    right = bool(row.code_hash) and code.isdigit() and constant_time_compare(
        code_hash(salt=row.salt, address=address, code=code), row.code_hash)
    if right:
        if not VerificationCode.objects.filter(pk=row.pk, state=CodeState.ACTIVE).update(state=CodeState.USED):
            raise CodeInvalid("missing")  # the same code entered twice at once: only one use
        row.state, row.attempts = CodeState.USED, attempts
        return row
    if attempts >= CODE_MAX_TRIES:
        VerificationCode.objects.filter(pk=row.pk, state=CodeState.ACTIVE).update(state=CodeState.VOIDED)
        raise CodeInvalid("voided")
    raise CodeInvalid("wrong", tries_left=CODE_MAX_TRIES - attempts)


def _hash_anyway(address: str, code: str) -> None:
    code_hash(salt=secrets.token_hex(16), address=address, code=code)


def email_code_make(*, code_id: int) -> str | None:
    """Give an emailed code its digits (once): the digits, or None when it has them already."""
    secret = _new_secret()
    row = VerificationCode.objects.filter(pk=code_id, code_hash="").first()
    if row is None:
        return None
    done = VerificationCode.objects.filter(pk=code_id, code_hash="").update(
        code_hash=code_hash(salt=row.salt, address=row.address, code=secret))
    return secret if done else None
