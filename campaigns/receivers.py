"""What the store's events (shop/events.py) and credits' signals make the system text.

Thin: each receiver calls one service. Receivers of store events run inside the shop
service's transaction, so a Message they write commits or rolls back with the change that
caused it. They are connected in CampaignsConfig.ready() (``connect``), not by decorator.
"""

from __future__ import annotations

from shop.models import Order, Product, Shop, Ticket, VerificationCode

from . import codes, service_texts
from .attribution import order_attribute
from .alerts import low_balance_alert_send
from .back_in_stock import back_in_stock_texts_schedule
from .models import InboxSettings, MarketingSettings


def marketing_settings_create(sender, *, shop: Shop, **kwargs) -> None:
    MarketingSettings.objects.get_or_create(shop=shop)


def inbox_settings_create(sender, *, shop: Shop, **kwargs) -> None:
    InboxSettings.objects.get_or_create(shop=shop)


def text_order_placed(sender, *, order: Order, **kwargs) -> None:
    service_texts.order_placed_texts_schedule(order=order)


def attribute_order(sender, *, order: Order, **kwargs) -> None:
    order_attribute(order=order)


def text_order_status(sender, *, order: Order, previous: str, **kwargs) -> None:
    service_texts.order_status_text_schedule(order=order)


def text_tracking_code(sender, *, order: Order, previous: str, **kwargs) -> None:
    service_texts.order_tracking_text_schedule(order=order)


def alert_ticket_opened(sender, *, ticket: Ticket, **kwargs) -> None:
    service_texts.ticket_opened_alert_schedule(ticket=ticket)


def text_ticket_answered(sender, *, ticket: Ticket, **kwargs) -> None:
    service_texts.ticket_answered_text_schedule(ticket=ticket)


def text_back_in_stock(sender, *, product: Product, **kwargs) -> None:
    back_in_stock_texts_schedule(product=product)


def text_verification_code(sender, *, code: VerificationCode, secret: str, **kwargs) -> None:
    codes.verification_code_text_schedule(code=code, secret=secret)


def alert_code_ceiling(sender, *, shop: Shop, limit: int, **kwargs) -> None:
    codes.code_ceiling_alert_send(shop=shop, limit=limit)


def alert_low_balance(sender, *, shop_id: int, balance: int, threshold: int, crossing: int, **kwargs) -> None:
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is not None:
        low_balance_alert_send(shop=shop, balance=balance, threshold=threshold, crossing=crossing)
