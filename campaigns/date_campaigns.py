"""The date campaigns' periodic scan: who is due for a birthday text, or for a text a number of
days after an order shipped, their first or last order, or their registration.

Set-based: per campaign and per due day, ONE query selects every due (customer, occasion) pair
— the dates compared as ranges on indexed timestamps, "first" and "last" order as NOT EXISTS
an earlier / later order, and what was already texted as NOT EXISTS a message with the pair's
dedupe key. The rows are read through a server-side cursor and written in chunks
(``outbox.messages_schedule_many``: one INSERT of messages, one of their events, one of their
discount codes per chunk). So the number of queries grows with the campaigns and the texts
written, never with the customers scanned.

When. A campaign's text for a date D is due at ``send_hour`` o'clock (the shop's wall clock,
whatever the daylight-saving offset that day) on D + ``delay_days``. Each run covers the window
from where the campaign's last run stopped (``scanned_until``) to now, but never more than
LOOKBACK back: a run missed for an hour catches up, a scan that was down for a week does not
text last week's birthdays, and a new campaign (or one switched back on) starts with the dates
that fall due after it was switched on.

Idempotent: every text's dedupe key names the campaign and the occasion
(``date:3:birthday:customer:9:2027``, ``date:3:after_shipped:order:42``,
``date:3:after_first_order:customer:9``), excluded by the query and unique per shop in the database;
running the scan twice, concurrently, or again after a crash, texts nobody twice.

Surveys. A campaign that asks for a rating (``ask_rating``, dates of an order only) writes, in
the same transaction, a ``SatisfactionSurvey`` row per text (one INSERT per chunk), by which a
reply of 1 to 5 is later read as the rating of that order (satisfaction.py).

Who. Customers who granted marketing consent and have a phone (the customer's, else the
order's). The delivery policies check consent, opt-outs and quiet hours again when the text
leaves.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat, NullIf
from django.utils import timezone

from shop.models import Coupon, Customer, MarketingConsent, Order, OrderStatus
from smsnotify.models import Kind, Message
from smsnotify.outbox import PreparedMessage, messages_schedule_many
from templates_sms.models import SmsTemplate
from templates_sms.rendering import render
from templates_sms.tokens import COUPON_CODE_LENGTH, RenderContext

from .models import DateCampaign, SatisfactionSurvey, Trigger

log = logging.getLogger(__name__)

LOOKBACK = dt.timedelta(hours=24)
CHUNK = 2000  # texts written per transaction (and held in memory at once)
# Unambiguous on a phone's screen: no 0/O, 1/I/L.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def due_days(*, start: dt.datetime, end: dt.datetime, hour: int, zone: dt.tzinfo) -> list[tuple[dt.date, dt.datetime]]:
    """The local days whose ``hour`` o'clock falls in (start, end], each with that moment (UTC).

    ``hour`` is on the shop's wall clock: 9:00 in Warsaw is 8:00 UTC in winter and 7:00 UTC in
    summer. An hour a spring-forward skips (2:30 in Warsaw on its last Sunday of March) is read
    as the clocks' jump puts it: it comes an hour later that day, once."""
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    days = []
    day = first
    while day <= last:
        moment = dt.datetime.combine(day, dt.time(hour), tzinfo=zone).astimezone(dt.timezone.utc)
        if start < moment <= end:
            days.append((day, moment))
        day += dt.timedelta(days=1)
    return days


def _local_day_range(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local calendar day, as UTC instants (23 or 25 hours across a DST change)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# --- the due pairs, one query per campaign and due day -------------------------------------------

_CONSENTING = {"marketing_consent": MarketingConsent.GRANTED}


def _prefix(campaign: DateCampaign) -> str:
    """Every dedupe key of the campaign's texts starts with its id and its trigger (a trigger
    edited later is another occasion, not one already texted)."""
    return f"date:{campaign.pk}:{campaign.trigger}"


def campaign_of_dedupe_key(key: str | None) -> int | None:
    """The id of the campaign a text's key names ("date:3:…" → 3), or None."""
    parts = (key or "").split(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[0] == "date" and parts[1].isdigit() else None


def _not_texted(queryset: QuerySet, shop_id: int) -> QuerySet:
    return queryset.filter(~Exists(Message.objects.filter(shop_id=shop_id, dedupe_key=OuterRef("key"))))


def _due_orders(campaign: DateCampaign, anchor_day: dt.date, zone: dt.tzinfo) -> QuerySet:
    """Orders whose date (shipped, or placed) is ``anchor_day`` and that are the campaign's occasion."""
    start, end = _local_day_range(anchor_day, zone)
    orders = Order.objects.filter(shop_id=campaign.shop_id, customer__isnull=False,
                                  **{f"customer__{k}": v for k, v in _CONSENTING.items()})
    orders = orders.filter(Q(customer__phone__gt="") | Q(phone__gt=""))
    same_customer = Order.objects.filter(shop_id=campaign.shop_id, customer_id=OuterRef("customer_id"))
    if campaign.trigger == Trigger.AFTER_SHIPPED:
        orders = orders.filter(status=OrderStatus.SHIPPED, status_changed_at__gte=start, status_changed_at__lt=end)
        key = Concat(Value(f"{_prefix(campaign)}:order:"), Cast("pk", CharField()))
    else:
        orders = orders.filter(placed_at__gte=start, placed_at__lt=end)
        if campaign.trigger == Trigger.AFTER_FIRST_ORDER:
            earlier = same_customer.filter(Q(placed_at__lt=OuterRef("placed_at"))
                                           | Q(placed_at=OuterRef("placed_at"), pk__lt=OuterRef("pk")))
            orders = orders.filter(~Exists(earlier))
            key = Concat(Value(f"{_prefix(campaign)}:customer:"), Cast("customer_id", CharField()))
        else:  # the last order: none placed after it, up to now
            later = same_customer.filter(Q(placed_at__gt=OuterRef("placed_at"))
                                         | Q(placed_at=OuterRef("placed_at"), pk__gt=OuterRef("pk")))
            orders = orders.filter(~Exists(later))
            key = Concat(Value(f"{_prefix(campaign)}:order:"), Cast("pk", CharField()))
    # The number as stored text: a PhoneNumberField parses every value it loads, which a scan
    # of thousands would pay for twice (the outbox validates the number once more anyway).
    to = Coalesce(NullIf(Cast("customer__phone", CharField()), Value("")), Cast("phone", CharField()))
    return (_not_texted(orders.annotate(key=key, to=to), campaign.shop_id).select_related("customer")
            .defer("phone", "customer__phone").order_by("pk"))


def _due_customers(campaign: DateCampaign, anchor_day: dt.date, zone: dt.tzinfo) -> QuerySet:
    customers = Customer.objects.filter(shop_id=campaign.shop_id, phone__gt="", **_CONSENTING)
    if campaign.trigger == Trigger.BIRTHDAY:
        days = Q(birthday__month=anchor_day.month, birthday__day=anchor_day.day)
        if (anchor_day.month, anchor_day.day) == (2, 28) and not _is_leap(anchor_day.year):
            days |= Q(birthday__month=2, birthday__day=29)  # a 29 February birthday, on the 28th
        customers = customers.filter(days)
        key = Concat(Value(f"{_prefix(campaign)}:customer:"), Cast("pk", CharField()),
                     Value(f":{anchor_day.year}"))
    else:
        start, end = _local_day_range(anchor_day, zone)
        customers = customers.filter(registered_at__gte=start, registered_at__lt=end)
        key = Concat(Value(f"{_prefix(campaign)}:customer:"), Cast("pk", CharField()))
    return (_not_texted(customers.annotate(key=key, to=Cast("phone", CharField())), campaign.shop_id)
            .defer("phone").order_by("pk"))


def _due(campaign: DateCampaign, anchor_day: dt.date,
         zone: dt.tzinfo) -> Iterator[tuple[str, str, Customer, Order | None]]:
    """(dedupe key, phone, customer, order or None) of each due pair."""
    if campaign.trigger in (Trigger.BIRTHDAY, Trigger.AFTER_REGISTRATION):
        for customer in _due_customers(campaign, anchor_day, zone).iterator(chunk_size=CHUNK):
            yield customer.key, customer.to, customer, None
    else:
        for order in _due_orders(campaign, anchor_day, zone).iterator(chunk_size=CHUNK):
            yield order.key, order.to, order.customer, order


# --- writing -----------------------------------------------------------------------------------------


def coupon_code_new() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(COUPON_CODE_LENGTH))


def _coupon(campaign: DateCampaign, customer: Customer, key: str, now: dt.datetime, zone: dt.tzinfo) -> Coupon:
    # Valid to the end of the last day, on the shop's calendar ("valid until 14 March" means all of it).
    last_day = now.astimezone(zone).date() + dt.timedelta(days=campaign.discount_valid_days)
    valid_until = dt.datetime.combine(last_day, dt.time.max, tzinfo=zone)
    return Coupon(shop_id=campaign.shop_id, code=coupon_code_new(), kind=campaign.discount_kind,
                  value=campaign.discount_value, valid_until=valid_until, customer=customer, source_key=key,
                  created_at=now)


def _write_chunk(campaign: DateCampaign, template: SmsTemplate, chunk: list, now: dt.datetime,
                 zone: dt.tzinfo) -> int | None:
    """Render and write one chunk of due pairs, with their discount codes, in one transaction;
    how many texts it wrote, or None when it wrote nothing and must be tried again."""
    shop = campaign.shop
    rows, coupons = [], {}
    for key, phone, customer, order in chunk:
        customer.shop = shop  # rendering reads the shop; one object for all, not a query each
        coupon = _coupon(campaign, customer, key, now, zone) if campaign.has_discount else None
        body = render(template.body, RenderContext(shop=shop, customer=customer, order=order, coupon=coupon),
                      event=campaign.event).strip()
        if not body:
            continue
        rows.append(PreparedMessage(to=phone, body=body, dedupe_key=key, send_at=now, customer_id=customer.pk,
                                    order_id=order.pk if order is not None else None))
        if coupon is not None:
            coupons[key] = coupon
    try:
        with transaction.atomic():
            written = messages_schedule_many(shop=shop, kind=Kind.DATE_CAMPAIGN, rows=rows)
            # Only the texts this run wrote get their codes: a text another run wrote keeps its own.
            Coupon.objects.bulk_create([coupons[key] for key in written if key in coupons])
            if campaign.ask_rating:
                orders = {row.dedupe_key: row.order_id for row in rows}
                SatisfactionSurvey.objects.bulk_create([
                    SatisfactionSurvey(shop_id=campaign.shop_id, message_id=pk, campaign_id=campaign.pk,
                                       order_id=orders[key])
                    for key, pk in written.items() if orders.get(key) is not None])
    except IntegrityError:
        # Two random codes met (about one chance in 10^15 per pair): nothing of this chunk was
        # written; the campaign's window stays where it was, so the next run, with new codes,
        # writes it (and, by the dedupe keys, nothing twice).
        log.warning("A discount code of campaign %s was taken; its chunk waits for the next run.", campaign.pk)
        return None
    return len(written)


def date_campaign_run(*, campaign: DateCampaign, now: dt.datetime) -> int:
    """Write the texts of ``campaign`` that fell due since its last run; returns how many."""
    start = max(campaign.scanned_until, now - LOOKBACK)
    results = []
    template = campaign.text_template() if start < now else None
    if template is not None:
        zone = campaign.shop.zone
        for day, _moment in due_days(start=start, end=now, hour=campaign.send_hour, zone=zone):
            anchor_day = day - dt.timedelta(days=campaign.delay_days)
            chunk = []
            for pair in _due(campaign, anchor_day, zone):
                chunk.append(pair)
                if len(chunk) == CHUNK:
                    results.append(_write_chunk(campaign, template, chunk, now, zone))
                    chunk = []
            if chunk:
                results.append(_write_chunk(campaign, template, chunk, now, zone))
    if None not in results:
        DateCampaign.objects.filter(pk=campaign.pk, scanned_until__lt=now).update(scanned_until=now)
    return sum(result or 0 for result in results)


def date_campaigns_run(*, now: dt.datetime | None = None) -> int:
    """The periodic job: every active campaign's due texts. Returns how many were written."""
    now = now or timezone.now()
    # A campaign that is off moves its window along, so switching it on texts only what falls due after.
    DateCampaign.objects.filter(active=False, scanned_until__lt=now).update(scanned_until=now)
    campaigns = DateCampaign.objects.filter(active=True, shop__sms_settings__active=True).select_related("shop", "template").order_by("pk")
    return sum(date_campaign_run(campaign=campaign, now=now) for campaign in campaigns)
