"""The standard templates every shop starts with, in the shop's language (Django i18n).

Which ones start active: the five a merchant expects from SEOshop's SMS module (new order to
the merchant, new ticket to the merchant, order confirmation to the customer, order shipped,
ticket answered), plus those that only answer something the customer or the merchant asked
for (the sign-up code, back-in-stock for subscribers, the low-balance alert, and the custom
text used for sends by hand). Other order statuses are filled in but off, so a shop does
not suddenly text every step of its workflow. Marketing texts (abandoned cart, birthday,
dates after an order or a registration) are off until the merchant turns them on: they
need the customer's marketing consent and cost credits the merchant has not planned for.

Translators: keep every {token} exactly as it is (msgfmt --check-format checks them).
Polish and Portuguese texts keep their letters (ą, ę, ç, ã); a shop that wants the cheaper
GSM-7 encoding turns on "Replace special characters" in its SMS settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from shop.models import OrderStatus

from .tokens import CUSTOM, Audience, event_label, order_status_event


@dataclass(frozen=True)
class StandardTemplate:
    event: str
    audience: str
    body: str  # lazy
    active: bool
    name: str | None = None  # lazy; the event's label when None

    @property
    def key(self) -> tuple[str, str]:
        return (self.event, self.audience)

    def display_name(self) -> str:
        return str(self.name) if self.name is not None else event_label(self.event)


_STATUS_BODIES = {
    OrderStatus.PLACED: _("{shop_name}: your order {order_id} has been placed. Total: {total_cost}."),
    OrderStatus.ACCEPTED: _("{shop_name}: your order {order_id} has been accepted and is being prepared."),
    OrderStatus.AWAITING_DELIVERY: _(
        "{shop_name}: your order {order_id} is waiting for goods from our supplier. We will text you when it ships."),
    OrderStatus.BEING_PICKED: _("{shop_name}: we are packing your order {order_id}."),
    OrderStatus.AWAITING_PAYMENT: _("{shop_name}: your order {order_id} is awaiting payment of {total_cost}."),
    OrderStatus.READY_TO_SHIP: _("{shop_name}: your order {order_id} is packed and ready to ship."),
    OrderStatus.SHIPPED: _("{shop_name}: your order {order_id} has been shipped. {tracking}"),
    OrderStatus.CANCELLED: _("{shop_name}: your order {order_id} has been cancelled. Questions? Contact us."),
    OrderStatus.REJECTED: _("{shop_name}: we could not accept your order {order_id}. Please contact us for details."),
    OrderStatus.RETURNED: _("{shop_name}: we have received the return of your order {order_id}. Thank you!"),
    OrderStatus.COMPLAINT: _(
        "{shop_name}: we have received your complaint about order {order_id} and will get back to you soon."),
    OrderStatus.TEST: _("{shop_name}: test message for order {order_id} ({status_name})."),
}

# SEOshop's "order sent" is our status "shipped": the only status texted out of the box.
_ACTIVE_STATUSES = {OrderStatus.SHIPPED}

STANDARD_TEMPLATES: tuple[StandardTemplate, ...] = (
    StandardTemplate("order:new", Audience.MERCHANT,
                     _("New order {order_id} from {fullname}: {total_cost}, {shipping_name}."),
                     True, _("New order (to you)")),
    StandardTemplate("ticket:new", Audience.MERCHANT, _("New ticket #{ticket_id} from {fullname}: {ticket_subject}"),
                     True, _("New ticket (to you)")),
    StandardTemplate("order:new", Audience.CUSTOMER,
                     _("{shop_name}: thank you for your order {order_id}! Total: {total_cost}. "
                       "We will text you when it ships."),
                     True, _("Order confirmation")),
    *(StandardTemplate(order_status_event(status), Audience.CUSTOMER, body, status in _ACTIVE_STATUSES)
      for status, body in _STATUS_BODIES.items()),
    # Off: the shipped text already carries {tracking}; a shop that sets codes later turns this on.
    StandardTemplate("order:tracking", Audience.CUSTOMER,
                     _("{shop_name}: your order {order_id} is on its way. Tracking number: {tracking_code}"), False),
    StandardTemplate("ticket:answered", Audience.CUSTOMER,
                     _("{shop_name}: we have answered your message \"{ticket_subject}\". Please check your email."),
                     True),
    StandardTemplate(CUSTOM, Audience.CUSTOMER, _("Hello {firstname}, this is {shop_name}."), True,
                     _("Custom message")),
    StandardTemplate("product:back_in_stock", Audience.CUSTOMER,
                     _("{shop_name}: good news! {product_name} is back in stock for {price}."), True),
    StandardTemplate("cart:abandoned", Audience.CUSTOMER,
                     _("{shop_name}: {name}, you left items worth {cart_total} in your cart. "
                       "Complete your order before they are gone!"), False),
    StandardTemplate("date:birthday", Audience.CUSTOMER,
                     _("Happy birthday, {firstname}! Best wishes from {shop_name}."), False),
    StandardTemplate("date:after_shipped", Audience.CUSTOMER,
                     _("{shop_name}: {firstname}, how do you like your order {order_id}? Tell us, we read "
                       "every answer."), False),
    StandardTemplate("date:after_first_order", Audience.CUSTOMER,
                     _("{shop_name}: {firstname}, thank you for shopping with us! We hope you enjoy your order."),
                     False),
    StandardTemplate("date:after_last_order", Audience.CUSTOMER,
                     _("{shop_name}: {firstname}, we miss you! Come and see what is new in the shop."), False),
    StandardTemplate("date:after_registration", Audience.CUSTOMER,
                     _("{shop_name}: welcome, {firstname}! Thank you for signing up."), False),
    StandardTemplate("signup:code", Audience.CUSTOMER, _("{code} is your {shop_name} verification code."), True),
    StandardTemplate("credits:low_balance", Audience.MERCHANT,
                     _("{shop_name}: your SMS balance is low: {balance} credits left. Top up to keep texting."),
                     True, _("Low balance (to you)")),
)

_BY_KEY = {spec.key: spec for spec in STANDARD_TEMPLATES}


def standard_template(event: str, audience: str) -> StandardTemplate | None:
    return _BY_KEY.get((event, audience))


def position(event: str, audience: str) -> int:
    """Where a standard template sits in the list: in the order above (workflow order)."""
    keys = list(_BY_KEY)
    return keys.index((event, audience)) if (event, audience) in _BY_KEY else len(keys)
