"""The token registry: which tokens each event offers, what they mean and how they are resolved.

A token is a plain name (``firstname``) written ``{firstname}`` (SMSAPI / Shoper style) or
``[[firstname]]`` (SEOshop style). It is resolved by a function of this module from the objects
at hand (a RenderContext), never by attribute lookup on a name the merchant typed: a template
can only ever read what is listed here.

Each token also has a sample value (the editor's live preview) and a plausible longest value
(the per-shop limit of SMS parts, see rendering.longest_plausible).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _, pgettext

from shop.models import Cart, Coupon, CouponKind, Customer, Order, OrderStatus, Product, Shop, Ticket
from shop.money import format_money, format_number

from .formatting import format_date


class Audience:
    MERCHANT = "merchant"
    CUSTOMER = "customer"

    choices = [(MERCHANT, _("Merchant (you)")), (CUSTOMER, _("Customer"))]


@dataclass
class RenderContext:
    """The objects one message is about. Anything may be missing: its tokens render as ""."""

    shop: Shop
    customer: Customer | None = None
    order: Order | None = None
    product: Product | None = None
    cart: Cart | None = None
    ticket: Ticket | None = None
    code: str | None = None          # a one-time sign-up code
    balance: int | None = None       # credits left (low-balance alert)
    coupon: Coupon | None = None     # a discount code made for this recipient (a campaign's)

    @classmethod
    def for_order(cls, order: Order) -> RenderContext:
        """A text about ``order``, to its customer (or to whoever is on the order when it has none)."""
        return cls(shop=order.shop, order=order, customer=order.customer)

    @classmethod
    def for_customer(cls, customer: Customer) -> RenderContext:
        return cls(shop=customer.shop, customer=customer)

    @property
    def language(self) -> str:
        return self.shop.language

    @property
    def the_customer(self) -> Customer | None:
        """The customer, from wherever the event knows them."""
        if self.customer is not None:
            return self.customer
        for holder in (self.order, self.cart, self.ticket):
            if holder is not None and holder.customer_id:
                return holder.customer
        return None

    @property
    def the_order(self) -> Order | None:
        if self.order is not None:
            return self.order
        if self.ticket is not None and self.ticket.order_id:
            return self.ticket.order
        return None

    @property
    def currency(self) -> str:
        order = self.the_order
        return (order.currency if order is not None and order.currency else self.shop.currency).upper()

    def money(self, amount: int | None) -> str:
        return format_money(amount, self.currency, self.language)


@dataclass(frozen=True)
class Token:
    name: str
    description: str  # lazy
    resolve: Callable[[RenderContext], object]
    sample: Callable[[Shop], str]
    # Longest plausible value: a length (a GSM-7 filler of that many characters is used)
    # or a function of the shop when the shop knows it (its own name, its currency).
    longest: int | Callable[[Shop], str] = 20

    def longest_value(self, shop: Shop) -> str:
        return self.longest(shop) if callable(self.longest) else "x" * self.longest


# --- sample data: realistic, and GSM-7 only, so the preview's counter reflects the merchant's
# own text (a real "Łukasz" may still turn one message into UCS-2; the editor says so) -----------

_SAMPLES = {
    "en": {
        "firstname": "Jane", "lastname": "Smith", "email": "jane.smith@example.com",
        "street": "742 Evergreen Terrace", "city": "Springfield", "postcode": "62704",
        "shipping": "Courier", "product": "Trail backpack 30 L", "subject": "Where is my parcel?",
    },
    "pl": {
        "firstname": "Anna", "lastname": "Nowak", "email": "anna.nowak@example.pl",
        "street": "ul. Polna 12/4", "city": "Warszawa", "postcode": "00-950",
        "shipping": "Kurier", "product": "Plecak turystyczny 30 L", "subject": "Gdzie jest moja paczka?",
    },
    "pt": {
        "firstname": "Maria", "lastname": "Silva", "email": "maria.silva@example.pt",
        "street": "Rua Augusta 100", "city": "Lisboa", "postcode": "1100-053",
        "shipping": "Correio", "product": "Mochila de viagem 30 L", "subject": "Pedido 1024 em atraso",
    },
}


def _sample(key: str) -> Callable[[Shop], str]:
    def sample(shop: Shop) -> str:
        return _SAMPLES.get(shop.language, _SAMPLES["en"])[key]

    return sample


def _fixed(value: str) -> Callable[[Shop], str]:
    return lambda shop: value


def _sample_money(amount: int) -> Callable[[Shop], str]:
    return lambda shop: format_money(amount, shop.currency, shop.language)


def _longest_money(shop: Shop) -> str:
    return format_money(99_999_99, shop.currency, shop.language)  # 99,999.99: a plausible big order


def _longest_status(shop: Shop) -> str:
    return max((str(label) for label in OrderStatus.labels), key=len)


def _sample_date(shop: Shop) -> str:
    return format_date(dt.date(2026, 3, 14), time_zone=shop.time_zone, language=shop.language)


# --- resolvers: plain functions over the context; None means "no data" and renders as "" --------


def _first_name(ctx: RenderContext) -> str | None:
    customer = ctx.the_customer
    if customer is not None and customer.first_name:
        return customer.first_name
    name = _delivery_name(ctx)
    return name.split()[0] if name else None


def _last_name(ctx: RenderContext) -> str | None:
    customer = ctx.the_customer
    if customer is not None and customer.last_name:
        return customer.last_name
    name = _delivery_name(ctx)
    return name.split(None, 1)[1] if name and len(name.split()) > 1 else None


def _full_name(ctx: RenderContext) -> str | None:
    customer = ctx.the_customer
    if customer is not None and customer.full_name:
        return customer.full_name
    return _delivery_name(ctx)


def _delivery_name(ctx: RenderContext) -> str | None:
    order = ctx.the_order
    return (order.delivery_name or "").strip() or None if order is not None else None


def _email(ctx: RenderContext) -> str | None:
    customer = ctx.the_customer
    for source in (customer, ctx.the_order, ctx.cart):
        if source is not None and source.email:
            return source.email
    return None


def _order_attr(attribute: str) -> Callable[[RenderContext], object]:
    def resolve(ctx: RenderContext):
        order = ctx.the_order
        return getattr(order, attribute) if order is not None else None

    return resolve


def _order_money(attribute: str) -> Callable[[RenderContext], str | None]:
    def resolve(ctx: RenderContext):
        order = ctx.the_order
        return ctx.money(getattr(order, attribute)) if order is not None else None

    return resolve


def _status_name(ctx: RenderContext) -> str | None:
    order = ctx.the_order
    if order is None or order.status not in OrderStatus.values:
        return None
    return str(OrderStatus(order.status).label)


def _tracking_line(code: str | None) -> str | None:
    # The label travels with the number, so a text reads well whether or not the order has one.
    return _("Tracking: %(code)s") % {"code": code} if code else None


def _tracking(ctx: RenderContext) -> str | None:
    order = ctx.the_order
    return _tracking_line(order.tracking_code) if order is not None else None


def _order_date(ctx: RenderContext) -> str | None:
    order = ctx.the_order
    if order is None:
        return None
    return format_date(order.placed_at, time_zone=ctx.shop.time_zone, language=ctx.language)


def _product_name(ctx: RenderContext) -> str | None:
    return ctx.product.name if ctx.product is not None else None


def _price(ctx: RenderContext) -> str | None:
    return format_money(ctx.product.price, ctx.shop.currency, ctx.language) if ctx.product is not None else None


def _cart_total(ctx: RenderContext) -> str | None:
    if ctx.cart is None or ctx.cart.pk is None:
        return None
    total = sum(item.unit_price * item.quantity for item in ctx.cart.items.all())
    return format_money(total, ctx.shop.currency, ctx.language)


def _cart_items(ctx: RenderContext) -> str | None:
    if ctx.cart is None or ctx.cart.pk is None:
        return None
    return str(sum(item.quantity for item in ctx.cart.items.all()))


def _ticket_id(ctx: RenderContext) -> str | None:
    return str(ctx.ticket.pk) if ctx.ticket is not None and ctx.ticket.pk else None


def _ticket_subject(ctx: RenderContext) -> str | None:
    return ctx.ticket.subject if ctx.ticket is not None else None


def _balance(ctx: RenderContext) -> str | None:
    return format_number(ctx.balance, language=ctx.language) if ctx.balance is not None else None


def _currency(ctx: RenderContext) -> str:
    return ctx.currency


def _coupon_value_text(kind: str, value: int, shop: Shop, language: str) -> str:
    if kind == CouponKind.PERCENT:
        return f"{value}%"
    return format_money(value, shop.currency, language)


def _coupon_value(ctx: RenderContext) -> str | None:
    coupon = ctx.coupon
    return _coupon_value_text(coupon.kind, coupon.value, ctx.shop, ctx.language) if coupon is not None else None


def _coupon_valid_until(ctx: RenderContext) -> str | None:
    coupon = ctx.coupon
    return format_date(coupon.valid_until, time_zone=ctx.shop.time_zone, language=ctx.language) if coupon else None


def _longest_coupon_value(shop: Shop) -> str:
    return format_money(9_999_99, shop.currency, shop.language)  # longer than any percentage ("100%")


# Discount codes are this long (campaigns make them; shop.Coupon.code holds up to 32 for imports).
COUPON_CODE_LENGTH = 10


def _tokens() -> list[Token]:
    # A function (as _events() is), so that tests can build the registry again: mutation testing
    # swaps a function's code only after import, when TOKENS is built already.
    return [
        # the customer
        Token("firstname", _("Customer's first name."), _first_name, _sample("firstname"), 15),
        Token("lastname", _("Customer's last name."), _last_name, _sample("lastname"), 20),
        Token("fullname", _("Customer's first and last name."), _full_name,
              lambda shop: f"{_sample('firstname')(shop)} {_sample('lastname')(shop)}", 30),
        Token("name", _("Customer's first name (same as firstname; SMSAPI and Shoper call it name)."),
              _first_name, _sample("firstname"), 15),
        Token("email", _("Customer's email address."), _email, _sample("email"), 32),
        # the shop
        Token("shop_name", _("Your shop's name."), lambda ctx: ctx.shop.name, lambda shop: shop.name,
              lambda shop: shop.name),
        # the order
        Token("order_id", _("Order number as the customer knows it (same as order_number)."),
              _order_attr("number"), _fixed("1024"), 10),
        Token("order_number", _("Order number as the customer knows it."), _order_attr("number"), _fixed("1024"), 10),
        Token("order_date", _("Date the order was placed, in your shop's time zone."), _order_date, _sample_date, 10),
        Token("status_name", _("The order's status, as your customers read it."), _status_name,
              lambda shop: str(OrderStatus.SHIPPED.label), _longest_status),
        Token("sum", _("Value of the goods, without shipping."), _order_money("subtotal"), _sample_money(12999),
              _longest_money),
        Token("shipping_cost", _("Shipping cost."), _order_money("shipping_cost"), _sample_money(990), _longest_money),
        Token("total_cost", _("Total to pay: goods and shipping."), _order_money("total"), _sample_money(13989),
              _longest_money),
        Token("currency", _("Currency code (e.g. USD, EUR, PLN)."), _currency, lambda shop: shop.currency.upper(),
              lambda shop: shop.currency.upper()),
        Token("shipping_name", _("Shipping method."), _order_attr("shipping_method"), _sample("shipping"), 25),
        Token("tracking_code", _("Parcel tracking number."), _order_attr("tracking_code"),
              _fixed("1Z999AA10123456784"), 30),
        Token("tracking", _("\"Tracking:\" and the tracking number, or nothing when the order has none."), _tracking,
              lambda shop: _tracking_line("1Z999AA10123456784"), 45),
        Token("delivery_name", _("Name on the delivery address."), _delivery_name,
              lambda shop: f"{_sample('firstname')(shop)} {_sample('lastname')(shop)}", 30),
        Token("delivery_street", _("Delivery street and number."), _order_attr("delivery_street"),
              _sample("street"), 35),
        Token("delivery_city", _("Delivery city."), _order_attr("delivery_city"), _sample("city"), 20),
        Token("delivery_postcode", _("Delivery postcode."), _order_attr("delivery_postcode"), _sample("postcode"), 10),
        Token("delivery_country", _("Delivery country (two-letter code)."), _order_attr("delivery_country"),
              lambda shop: shop.country, 2),
        # a product
        Token("product_name", _("Product name."), _product_name, _sample("product"), 40),
        Token("price", _("Product price."), _price, _sample_money(8900), _longest_money),
        # a cart
        Token("cart_total", _("Value of the items left in the cart."), _cart_total, _sample_money(17800),
              _longest_money),
        Token("cart_items", _("Number of items left in the cart."), _cart_items, _fixed("2"), 3),
        # a ticket
        Token("ticket_id", _("Ticket number."), _ticket_id, _fixed("318"), 8),
        Token("ticket_subject", _("Ticket subject."), _ticket_subject, _sample("subject"), 40),
        # codes and credits
        Token("code", _("One-time code (sign-up, new number, password reset)."), lambda ctx: ctx.code,
              _fixed("482913"), 8),
        Token("balance", _("Credits left on your account."), _balance, _fixed("150"), 7),
        # a discount code made for the recipient (a campaign with a discount)
        Token("coupon_code", _("A discount code made for this customer alone, valid once."),
              lambda ctx: ctx.coupon.code if ctx.coupon is not None else None, _fixed("K7QW3MZP9X"),
              COUPON_CODE_LENGTH),
        Token("coupon_value", _("What the discount code takes off: a percentage or an amount."), _coupon_value,
              lambda shop: "10%", _longest_coupon_value),
        Token("coupon_valid_until", _("Last day the discount code can be used, in your shop's time zone."),
              _coupon_valid_until, _sample_date, 10),
    ]


TOKENS: dict[str, Token] = {token.name: token for token in _tokens()}


# --- events: what happened, who is texted, which tokens it offers ------------------------------

_CUSTOMER = ("firstname", "lastname", "fullname", "name", "email")
_ORDER = (
    "order_id", "order_number", "order_date", "status_name", "sum", "shipping_cost", "total_cost", "currency",
    "shipping_name", "tracking_code", "tracking", "delivery_name", "delivery_street", "delivery_city", "delivery_postcode",
    "delivery_country",
)


@dataclass(frozen=True)
class Event:
    key: str
    label: str  # lazy
    description: str  # lazy: when it is sent
    audiences: tuple[str, ...]
    token_names: tuple[str, ...]
    automatic: bool = True  # "custom" is only ever sent by hand
    # False while no feature sends this event yet: its template is ready and says so, so a
    # merchant never takes an active text for one that goes out.
    sent: bool = True
    tokens: dict[str, Token] = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "tokens", {name: TOKENS[name] for name in self.token_names})


ORDER_STATUS_PREFIX = "order_status:"
CUSTOM = "custom"
# A text the merchant writes by hand from an order's page: the customer's tokens and the order's.
CUSTOM_ORDER = "custom:order"
ORDER_NEW = "order:new"
ORDER_TRACKING = "order:tracking"
TICKET_NEW = "ticket:new"
TICKET_ANSWERED = "ticket:answered"
CART_ABANDONED = "cart:abandoned"
# The date campaigns' triggers; each has its event "date:<trigger>" (campaigns.DateCampaign).
DATE_PREFIX = "date:"
AFTER_SHIPPED, AFTER_FIRST_ORDER, AFTER_LAST_ORDER, AFTER_REGISTRATION, BIRTHDAY = (
    "after_shipped", "after_first_order", "after_last_order", "after_registration", "birthday")
_COUPON = ("coupon_code", "coupon_value", "coupon_valid_until")


def date_event(trigger: str) -> str:
    return DATE_PREFIX + trigger
PRODUCT_BACK_IN_STOCK = "product:back_in_stock"


def order_status_event(status: str) -> str:
    return ORDER_STATUS_PREFIX + status


def _status_event_label_now(status: OrderStatus) -> str:
    return pgettext("event", "Order status: %(status)s") % {"status": status.label}


# Lazy, so that each request (and each shop's seeding) reads the label in its own language.
_status_event_label = lazy(_status_event_label_now, str)


def _events() -> list[Event]:
    order_tokens = (*_CUSTOMER, *_ORDER, "shop_name")
    ticket_tokens = ("ticket_id", "ticket_subject", *_CUSTOMER, "order_id", "shop_name")
    return [
        *[Event(order_status_event(status.value), _status_event_label(status),
                _("Sent to the customer when an order moves to this status."),
                (Audience.CUSTOMER,), order_tokens)
          for status in OrderStatus],
        Event(ORDER_NEW, _("New order"), _("Sent when an order is placed."),
              (Audience.MERCHANT, Audience.CUSTOMER), order_tokens),
        Event(ORDER_TRACKING, _("Tracking code"),
              _("Sent to the customer at once when an order's tracking code is set or changed (not when the "
                "order's status text already carries that code)."),
              (Audience.CUSTOMER,), order_tokens),
        Event(TICKET_NEW, _("New ticket"), _("Sent to you when a customer opens a ticket."),
              (Audience.MERCHANT,), ticket_tokens),
        Event(TICKET_ANSWERED, _("Ticket answered"), _("Sent to the customer when you answer their ticket."),
              (Audience.CUSTOMER,), ticket_tokens),
        Event(CUSTOM, _("Custom message"), _("Never sent automatically: used for messages you send by hand."),
              (Audience.CUSTOMER,), (*_CUSTOMER, "shop_name"), automatic=False),
        Event(CUSTOM_ORDER, _("Custom message about an order"),
              _("Never sent automatically: used for messages you send by hand from an order's page."),
              (Audience.CUSTOMER,), order_tokens, automatic=False),
        Event(PRODUCT_BACK_IN_STOCK, _("Back in stock"),
              _("Sent to customers who asked to be told when a product is available again."),
              (Audience.CUSTOMER,), ("product_name", "price", "currency", "shop_name", *_CUSTOMER)),
        Event(CART_ABANDONED, _("Abandoned cart"),
              _("Sent once when a customer who agreed to marketing texts leaves items in the cart (Campaigns → "
                "Abandoned-cart reminders sets after how many hours)."),
              (Audience.CUSTOMER,), (*_CUSTOMER, "cart_total", "cart_items", "currency", "shop_name")),
        Event(date_event(BIRTHDAY), _("Birthday"), _("Sent on the customer's birthday by a date campaign."),
              (Audience.CUSTOMER,), (*_CUSTOMER, "shop_name", *_COUPON)),
        Event(date_event(AFTER_SHIPPED), _("Days after an order was shipped"),
              _("Sent by a date campaign a number of days after an order was shipped."),
              (Audience.CUSTOMER,), (*_CUSTOMER, "order_id", "order_date", "shop_name", *_COUPON)),
        Event(date_event(AFTER_FIRST_ORDER), _("Days after the first order"),
              _("Sent by a date campaign a number of days after a customer's first order."),
              (Audience.CUSTOMER,), (*_CUSTOMER, "order_id", "order_date", "shop_name", *_COUPON)),
        Event(date_event(AFTER_LAST_ORDER), _("Days after the last order"),
              _("Sent by a date campaign a number of days after a customer's last order, if they have not "
                "ordered since."),
              (Audience.CUSTOMER,), (*_CUSTOMER, "order_id", "order_date", "shop_name", *_COUPON)),
        Event(date_event(AFTER_REGISTRATION), _("After registration"),
              _("Sent by a date campaign a number of days after a customer creates an account."),
              (Audience.CUSTOMER,), (*_CUSTOMER, "shop_name", *_COUPON)),
        Event("signup:code", _("Sign-up code"),
              _("Sent when a customer signs up on your storefront, changes their mobile number or resets their "
                "password. It always carries the code: without {code}, the standard text is sent."),
              (Audience.CUSTOMER,), ("code", "shop_name")),
        Event("credits:low_balance", _("Low balance"), _("Sent to you when your credits run low."),
              (Audience.MERCHANT,), ("balance", "shop_name")),
    ]


EVENTS: dict[str, Event] = {event.key: event for event in _events()}
EVENT_CHOICES = [(key, event.label) for key, event in EVENTS.items()]


def tokens_for(event: str) -> dict[str, Token]:
    """The tokens an event offers ({} for an unknown event)."""
    found = EVENTS.get(event)
    return found.tokens if found is not None else {}


def event_label(key: str) -> str:
    found = EVENTS.get(key)
    return str(found.label) if found is not None else key
