"""The naive approach the campaign scan is measured against: a Python loop over every customer
(and every cart) that checks each one against each campaign with its own queries and saves
each text on its own (message_schedule), as most public Django code does it. Same rules,
same due days and the same dedupe keys as campaigns/date_campaigns.py and cart_reminders.py,
so both write the same texts."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from campaigns.cart_reminders import CART_RECOVERY_WINDOW, cart_dedupe_key
from campaigns.date_campaigns import _coupon, due_days
from campaigns.models import AbandonedCartSettings, DateCampaign, Trigger
from shop.models import Cart, Customer, MarketingConsent, OrderStatus, StockStatus
from smsnotify.models import Kind, Message
from smsnotify.outbox import message_schedule
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import CART_ABANDONED, Audience, RenderContext


def _occasions(campaign, customer, anchor_day, zone):
    """(dedupe key, order) of each occasion ``customer`` has on ``anchor_day`` for ``campaign``."""
    local = lambda moment: moment.astimezone(zone).date()  # noqa: E731
    if campaign.trigger == Trigger.BIRTHDAY:
        born = customer.birthday
        leap_day = (born and (born.month, born.day) == (2, 29) and (anchor_day.month, anchor_day.day) == (2, 28)
                    and not (anchor_day.year % 4 == 0 and (anchor_day.year % 100 or anchor_day.year % 400 == 0)))
        if born and ((born.month, born.day) == (anchor_day.month, anchor_day.day) or leap_day):
            yield f"date:{campaign.pk}:{campaign.trigger}:customer:{customer.pk}:{anchor_day.year}", None
    elif campaign.trigger == Trigger.AFTER_REGISTRATION:
        if local(customer.registered_at) == anchor_day:
            yield f"date:{campaign.pk}:{campaign.trigger}:customer:{customer.pk}", None
    elif campaign.trigger == Trigger.AFTER_SHIPPED:
        for order in customer.orders.filter(status=OrderStatus.SHIPPED):
            if local(order.status_changed_at) == anchor_day:
                yield f"date:{campaign.pk}:{campaign.trigger}:order:{order.pk}", order
    elif campaign.trigger == Trigger.AFTER_FIRST_ORDER:
        first = customer.orders.order_by("placed_at", "pk").first()
        if first is not None and local(first.placed_at) == anchor_day:
            yield f"date:{campaign.pk}:{campaign.trigger}:customer:{customer.pk}", first
    else:
        last = customer.orders.order_by("-placed_at", "-pk").first()
        if last is not None and local(last.placed_at) == anchor_day:
            yield f"date:{campaign.pk}:{campaign.trigger}:order:{last.pk}", last


def naive_date_campaigns_run(*, now: dt.datetime) -> int:
    written = 0
    for campaign in DateCampaign.objects.filter(active=True):
        shop, template = campaign.shop, campaign.text_template()
        zone = shop.zone
        start = max(campaign.scanned_until, now - dt.timedelta(hours=24))
        for day, _moment in due_days(start=start, end=now, hour=campaign.send_hour, zone=zone):
            anchor_day = day - dt.timedelta(days=campaign.delay_days)
            for customer in Customer.objects.filter(shop=shop):
                if customer.marketing_consent != MarketingConsent.GRANTED:
                    continue
                for key, order in _occasions(campaign, customer, anchor_day, zone):
                    phone = customer.phone or (order.phone if order is not None else "")
                    if not phone or Message.objects.filter(shop=shop, dedupe_key=key).exists():
                        continue
                    coupon = _coupon(campaign, customer, key, now, zone) if campaign.has_discount else None
                    body = render(template.body, RenderContext(shop=shop, customer=customer, order=order,
                                                               coupon=coupon), event=campaign.event).strip()
                    message_schedule(shop=shop, to=phone, body=body, kind=Kind.DATE_CAMPAIGN, dedupe_key=key,
                                     customer=customer, order=order, ring=False)
                    if coupon is not None:
                        coupon.save()
                    written += 1
        campaign.scanned_until = now
        campaign.save()
    return written


def naive_abandoned_carts_run(*, now: dt.datetime) -> int:
    written = 0
    for settings in AbandonedCartSettings.objects.filter(active=True):
        shop = settings.shop
        template = active_template(shop=shop, event=CART_ABANDONED, audience=Audience.CUSTOMER)
        for cart in Cart.objects.filter(shop=shop):
            idle = now - cart.last_activity_at
            if cart.converted_order_id or not (dt.timedelta(hours=settings.idle_hours) <= idle < CART_RECOVERY_WINDOW):
                continue
            customer = cart.customer
            if customer is None or customer.marketing_consent != MarketingConsent.GRANTED:
                continue
            phone = cart.phone or customer.phone
            items = list(cart.items.all())
            if not phone or not any(item.product.stock_status != StockStatus.OUT_OF_STOCK for item in items):
                continue
            if Message.objects.filter(cart=cart, kind=Kind.ABANDONED_CART,
                                      created_at__gte=cart.last_activity_at).exists():
                continue
            body = render(template.body, RenderContext(shop=shop, cart=cart, customer=customer),
                          event=CART_ABANDONED).strip()
            message_schedule(shop=shop, to=phone, body=body, kind=Kind.ABANDONED_CART, dedupe_key=cart_dedupe_key(cart),
                             customer=customer, cart=cart, ring=False)
            written += 1
    return written


def naive_scan(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return naive_date_campaigns_run(now=now) + naive_abandoned_carts_run(now=now)
