"""Rendering: every registered token from real objects, money and dates as the shop writes them,
missing data as empty text, substituted values never scanned again."""

import datetime as dt
import string

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings, strategies as st

from shop.models import Cart, CartItem, Coupon, OrderStatus, Ticket
from smsnotify.models import SmsSettings
from templates_sms.formatting import format_date
from templates_sms.rendering import TOKEN_RE, longest_plausible, longest_segments, render, render_sample
from templates_sms.selectors import editor_context
from templates_sms.tokens import CUSTOM, EVENTS, TOKENS, RenderContext, tokens_for
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, make_shop

pytestmark = pytest.mark.django_db
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# What each token is, for the context of the full_context fixture (an American shop, USD).
EXPECTED = {
    "firstname": "Jane", "lastname": "Doe", "fullname": "Jane Doe", "name": "Jane", "email": "jane@example.com",
    "shop_name": "Acme Outdoor",
    "order_id": "1042", "order_number": "1042", "order_date": "01/01/2026", "status_name": "Shipped",
    "sum": "$1,234.50", "shipping_cost": "$9.90", "total_cost": "$1,244.40", "currency": "USD",
    "shipping_name": "UPS Ground", "tracking_code": "1Z999AA10123456784",
    "tracking": "Tracking: 1Z999AA10123456784", "delivery_name": "Jane Q. Doe",
    "delivery_street": "742 Evergreen Terrace", "delivery_city": "Springfield", "delivery_postcode": "62704",
    "delivery_country": "US",
    "product_name": "Trail backpack 30 L", "price": "$89.00",
    "cart_total": "$193.00", "cart_items": "3",
    "ticket_id": None,  # the ticket's pk, checked below
    "ticket_subject": "Where is my parcel?",
    "code": "482913", "balance": "1,500",
    "coupon_code": "K7QW3MZP9X", "coupon_value": "15%", "coupon_valid_until": "01/31/2026",
}


def test_the_expectations_cover_the_whole_registry():
    assert set(EXPECTED) == set(TOKENS)


@pytest.mark.parametrize("event", list(EVENTS))
def test_every_token_of_every_event_renders_from_real_objects(full_context, event):
    expected = {**EXPECTED, "ticket_id": str(full_context.ticket.pk)}
    for name in tokens_for(event):
        for body in (f"{{{name}}}", f"[[{name}]]"):
            assert render(body, full_context, event=event) == expected[name], (event, name)


def test_a_whole_template_renders(full_context):
    body = "[[firstname]], your order {order_id} ({total_cost}) is {status_name}. Tracking: {tracking_code}"
    assert render(body, full_context, event="order_status:shipped") == (
        "Jane, your order 1042 ($1,244.40) is Shipped. Tracking: 1Z999AA10123456784")


def test_tokens_of_other_events_stay_as_written(full_context):
    # Validation refuses them on save; the renderer never guesses.
    assert render("Code {code}", full_context, event="order_status:shipped") == "Code {code}"


def test_a_polish_order_renders_polish_money_and_dates(db):
    shop = make_shop(country="PL", currency="PLN", language="pl", time_zone="Europe/Warsaw")
    order = OrderFactory(shop=shop, phone="+48601234567", subtotal=123450, shipping_cost=1500, total=124950,
                         placed_at=dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.timezone.utc), status="shipped")
    context = RenderContext(shop=shop, order=order)
    body = "{total_cost} {order_date} {status_name}"
    assert render(body, context, event="order_status:shipped") == "1 249,50 zł 02-01-2026 Wysłane"


def test_dates_are_on_the_shops_calendar():
    moment = dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.timezone.utc)
    assert format_date(moment, time_zone="Europe/Warsaw", language="pl") == "02-01-2026"
    assert format_date(moment, time_zone="America/New_York", language="en") == "01/01/2026"
    assert format_date(moment, time_zone="UTC", language="pt") == "01/01/2026"


def test_missing_data_renders_as_empty_text(db):
    shop = make_shop(name="Bare")
    order = OrderFactory(shop=shop, customer=None, phone="+12025550100")
    context = RenderContext(shop=shop, order=order)
    for name in ["firstname", "lastname", "fullname", "name", "email", "tracking_code", "shipping_name",
                 "delivery_name", "delivery_street", "delivery_city", "delivery_postcode", "delivery_country"]:
        assert render(f"<{{{name}}}>", context, event="order_status:shipped") == "<>", name
    nothing = RenderContext(shop=shop)
    for event in EVENTS:
        for name in tokens_for(event):
            value = render(f"{{{name}}}", nothing, event=event)
            assert "None" not in value
            assert value in ("", "Bare", "USD"), (event, name, value)


def test_a_guest_order_takes_names_from_the_delivery_address(db):
    shop = make_shop()
    order = OrderFactory(shop=shop, customer=None, delivery_name="Ana  de Souza")
    context = RenderContext(shop=shop, order=order)
    assert render("{firstname}|{lastname}|{fullname}", context, event="order:new") == "Ana|de Souza|Ana  de Souza"


def test_a_substituted_value_is_never_scanned_again(full_context):
    customer = full_context.customer
    customer.first_name, customer.last_name = "{shop_name}", "[[order_id]]"
    rendered = render("Hi {firstname} {lastname} from {shop_name}", full_context, event="order_status:shipped")
    assert rendered == "Hi {shop_name} [[order_id]] from Acme Outdoor"


# --- properties ----------------------------------------------------------------------------------

_LITERAL = st.text(alphabet=st.characters(blacklist_characters="{}[]", blacklist_categories=("Cs",)), max_size=12)


@st.composite
def _template(draw, event):
    names = list(tokens_for(event))
    parts = draw(st.lists(st.one_of(
        st.tuples(st.just("text"), _LITERAL),
        st.tuples(st.just("token"), st.sampled_from(names), st.sampled_from(["{%s}", "[[%s]]"])),
    ), max_size=12))
    return parts


@HYPOTHESIS
@given(data=st.data(), event=st.sampled_from(sorted(EVENTS)))
def test_rendering_replaces_every_known_token_exactly_once(full_context, data, event):
    parts = data.draw(_template(event))
    body = "".join(part[1] if part[0] == "text" else part[2] % part[1] for part in parts)
    expected = "".join(part[1] if part[0] == "text" else render("{%s}" % part[1], full_context, event=event)
                       for part in parts)
    rendered = render(body, full_context, event=event)
    assert rendered == expected
    leftover = {m.group("brace") or m.group("bracket") for m in TOKEN_RE.finditer(rendered)}
    assert not (leftover & set(tokens_for(event)))


# Real data may say "None" (a surname?); the property is about data that is missing.
_NAME = st.text(alphabet=string.ascii_letters + "ąęłżźćńóś{}[]_ .'-", max_size=15).filter(lambda s: "None" not in s)


@HYPOTHESIS
@given(first=_NAME, last=_NAME, has_customer=st.booleans(), has_order=st.booleans(), has_cart=st.booleans(),
       has_ticket=st.booleans(), tracking=st.sampled_from(["", "1Z9"]), event=st.sampled_from(sorted(EVENTS)))
def test_output_never_contains_none_for_missing_data(db, first, last, has_customer, has_order, has_cart, has_ticket,
                                                     tracking, event):
    shop = make_shop(name="Shop")
    customer = CustomerFactory.build(shop=shop, first_name=first, last_name=last, email="") if has_customer else None
    order = OrderFactory.build(shop=shop, customer=None, tracking_code=tracking, shipping_method="") if has_order \
        else None
    context = RenderContext(
        shop=shop, customer=customer, order=order,
        cart=Cart.objects.create(shop=shop) if has_cart else None,
        ticket=Ticket(shop=shop, subject="") if has_ticket else None,
    )
    body = " ".join(f"{{{name}}}" for name in tokens_for(event))
    rendered = render(body, context, event=event)
    assert "None" not in rendered
    if customer is not None:
        # whatever the customer is called, it is text, never a token to replace again
        assert render("{firstname}", context, event=event) == (first.strip() if "firstname" in tokens_for(event)
                                                                 else "{firstname}")


def test_a_web_address_in_a_customers_own_data_is_not_sent_as_one(shop):
    """The outbox shortens every address of a text to a link on the short domain: one typed as a
    customer's name would make that domain redirect anyone to a stranger's site."""
    customer = CustomerFactory(shop=shop, first_name="https://phish.example/x")
    text = render("Hi {firstname}, see https://shop.example/sale", RenderContext(shop=shop, customer=customer),
                            event=CUSTOM)
    assert text == "Hi https: //phish.example/x, see https://shop.example/sale"


def test_the_preview_and_the_longest_values_are_in_the_shops_language(db):
    shop = make_shop(country="PL", currency="PLN", language="pl", name="Sklep Bałtyk")
    with translation.override("en"):
        assert render_sample("{status_name} {firstname} {sum} {shop_name}", event="order_status:shipped",
                             shop=shop) == "Wysłane Anna 129,99 zł Sklep Bałtyk"
        longest = longest_plausible("{status_name}|{firstname}|{shop_name}", event="order_status:shipped", shop=shop)
    with translation.override("pl"):
        polish_longest = max((str(label) for label in OrderStatus.labels), key=len)
    assert longest == f"{polish_longest}|{'x' * 15}|Sklep Bałtyk"


def test_longest_values_are_counted_as_the_shop_sends_them(db):
    shop = make_shop(name="Żółw")  # a UCS-2 name: 70 characters a part
    body = "x" * 60 + " {shop_name}"
    assert longest_segments(body, event="order_status:shipped", shop=shop) == 1  # 65 characters
    assert longest_segments("x" * 70 + " {shop_name}", event="order_status:shipped", shop=shop) == 2
    SmsSettings.objects.filter(shop=shop).update(replace_special_characters=True)  # sent as "Zolw": GSM-7
    assert longest_segments("x" * 70 + " {shop_name}", event="order_status:shipped", shop=shop) == 1


@pytest.mark.parametrize("delivery_name,first,last,full", [
    ("Jane Doe", "Jane", "Doe", "Jane Doe"), ("Cher", "Cher", "", "Cher"), ("  ", "", "", ""),
])
def test_a_guests_names_from_a_one_or_two_word_delivery_name(db, delivery_name, first, last, full):
    shop = make_shop()
    order = OrderFactory(shop=shop, customer=None, delivery_name=delivery_name)
    assert render("{firstname}|{lastname}|{fullname}", RenderContext(shop=shop, order=order),
                  event="order:new") == f"{first}|{last}|{full}"


def test_a_fixed_amount_discount_is_written_as_money(full_context):
    full_context.coupon.kind, full_context.coupon.value = "amount", 500
    assert render("{coupon_value}", full_context, event="date:birthday") == "$5.00"


# --- the editor's samples and the longest plausible values, as the shop writes them -------------------

SAMPLES_EN = {
    "firstname": "Jane", "lastname": "Smith", "fullname": "Jane Smith", "name": "Jane",
    "email": "jane.smith@example.com", "shop_name": "Acme Outdoor", "order_id": "1024", "order_number": "1024",
    "order_date": "03/14/2026", "status_name": "Shipped", "sum": "$129.99", "shipping_cost": "$9.90",
    "total_cost": "$139.89", "currency": "USD", "shipping_name": "Courier", "tracking_code": "1Z999AA10123456784",
    "tracking": "Tracking: 1Z999AA10123456784", "delivery_name": "Jane Smith",
    "delivery_street": "742 Evergreen Terrace", "delivery_city": "Springfield", "delivery_postcode": "62704",
    "delivery_country": "US", "product_name": "Trail backpack 30 L", "price": "$89.00", "cart_total": "$178.00",
    "cart_items": "2", "ticket_id": "318", "ticket_subject": "Where is my parcel?", "code": "482913",
    "balance": "150", "coupon_code": "K7QW3MZP9X", "coupon_value": "10%", "coupon_valid_until": "03/14/2026",
}


def _event_offering(name):
    return next(key for key in EVENTS if name in tokens_for(key))


def test_every_token_has_a_realistic_sample(db):
    assert set(SAMPLES_EN) == set(TOKENS)
    shop = make_shop(name="Acme Outdoor")
    for name, expected in SAMPLES_EN.items():
        assert render_sample(f"{{{name}}}", event=_event_offering(name), shop=shop) == expected, name


def test_the_editors_samples_are_as_the_shop_writes_them_whatever_the_admins_language(db):
    shop = make_shop(country="PL", currency="PLN", language="pl")
    with translation.override("en"):  # a Polish shop's staff reading the admin in English
        tokens = {t["name"]: t["sample"] for t in
                  editor_context(shop=shop, event="date:after_shipped", body="")["tokens"]}
    assert (tokens["firstname"], tokens["fullname"], tokens["order_date"], tokens["coupon_valid_until"]) == (
        "Anna", "Anna Nowak", "14-03-2026", "14-03-2026")
    with translation.override("en"):
        tokens = {t["name"]: t["sample"] for t in
                  editor_context(shop=shop, event="product:back_in_stock", body="")["tokens"]}
    assert (tokens["price"], tokens["currency"], tokens["product_name"]) == ("89,00 zł", "PLN",
                                                                             "Plecak turystyczny 30 L")


# The longest plausible values that are not a filler of x's, for the shop "Acme Outdoor" (USD).
LONGEST_KNOWN = {
    "shop_name": "Acme Outdoor", "currency": "USD", "status_name": "Awaiting delivery",
    "sum": "$99,999.99", "shipping_cost": "$99,999.99", "total_cost": "$99,999.99", "price": "$99,999.99",
    "cart_total": "$99,999.99", "coupon_value": "$9,999.99",
}


def test_the_longest_plausible_values(db):
    shop = make_shop(name="Acme Outdoor")
    longest = {name: longest_plausible(f"{{{name}}}", event=_event_offering(name), shop=shop) for name in TOKENS}
    assert {name: value for name, value in longest.items() if not set(value) <= {"x"}} == LONGEST_KNOWN
    assert (len(longest["firstname"]), len(longest["delivery_street"]),
            len(longest["tracking"]), len(longest["coupon_code"])) == (15, 35, 45, 10)


def test_the_registry_built_again_resolves_samples_and_bounds_every_token(full_context):
    """TOKENS is built once, when tokens.py is imported; it is built again here so that what each
    token is made of (_order_attr, _fixed, _sample_money…) is what is checked: mutation testing
    swaps a function's code only after import."""
    from templates_sms.rendering import _as_text
    from templates_sms.tokens import _tokens

    fresh = {token.name: token for token in _tokens()}
    shop = full_context.shop
    expected = {**EXPECTED, "ticket_id": str(full_context.ticket.pk)}
    assert {name: _as_text(token.resolve(full_context)) for name, token in fresh.items()} == expected
    # with nothing at hand, only what the shop itself knows
    nothing = {name: _as_text(token.resolve(RenderContext(shop=shop))) for name, token in fresh.items()}
    assert {name: value for name, value in nothing.items() if value} == {"shop_name": "Acme Outdoor",
                                                                          "currency": "USD"}
    assert {name: token.sample(shop) for name, token in fresh.items()} == SAMPLES_EN
    longest = {name: token.longest_value(shop) for name, token in fresh.items()}
    assert {name: value for name, value in longest.items() if not set(value) <= {"x"}} == LONGEST_KNOWN
    assert {name: len(value) for name, value in longest.items() if set(value) <= {"x"}} == {
        "firstname": 15, "lastname": 20, "fullname": 30, "name": 15, "email": 32, "order_id": 10,
        "order_number": 10, "order_date": 10, "shipping_name": 25, "tracking_code": 30, "tracking": 45,
        "delivery_name": 30, "delivery_street": 35, "delivery_city": 20, "delivery_postcode": 10,
        "delivery_country": 2, "product_name": 40, "cart_items": 3, "ticket_id": 8, "ticket_subject": 40,
        "code": 8, "balance": 7, "coupon_code": 10, "coupon_valid_until": 10}


def test_a_polish_shops_values_are_written_the_polish_way_whoever_reads_the_admin(db):
    """Texts render in the shop's language; a token's value does too when resolved elsewhere (the
    editor of a Polish shop's staff who read the admin in English)."""
    from templates_sms.tokens import _tokens

    shop = make_shop(name="Sklep", country="PL", currency="PLN", language="pl", time_zone="Europe/Warsaw")
    customer = CustomerFactory(shop=shop, first_name="Anna")
    cart = Cart.objects.create(shop=shop, customer=customer)
    CartItem.objects.create(cart=cart, product=ProductFactory(shop=shop, price=123450), quantity=1, unit_price=123450)
    coupon = Coupon.objects.create(shop=shop, code="K7QW3MZP9X", kind="amount", value=2500, customer=customer,
                                   valid_until=dt.datetime(2026, 1, 31, 22, 59, tzinfo=dt.timezone.utc))
    context = RenderContext(shop=shop, customer=customer, cart=cart, balance=1500, coupon=coupon)
    fresh = {token.name: token for token in _tokens()}
    with translation.override("en"):
        values = {name: fresh[name].resolve(context) for name in ("balance", "cart_total", "coupon_value",
                                                                  "coupon_valid_until")}
        longest = {name: fresh[name].longest_value(shop) for name in ("sum", "coupon_value")}
    assert values == {"balance": "1 500", "cart_total": "1 234,50 zł", "coupon_value": "25,00 zł",
                      "coupon_valid_until": "31-01-2026"}
    assert longest == {"sum": "99 999,99 zł", "coupon_value": "9 999,99 zł"}
