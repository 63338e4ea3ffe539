"""Token validation: merchant text may use only the tokens its event offers, in {x} or [[x]]."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.functional import Promise
from hypothesis import given, strategies as st

from shop.models import OrderStatus
from templates_sms import rendering
from templates_sms.defaults import STANDARD_TEMPLATES
from smsnotify.models import SmsSettings
from templates_sms.tokens import EVENTS, TOKENS, _events, event_label, tokens_for
from tests.factories import make_shop

SHIPPED = "order_status:shipped"


def _messages(body, event=SHIPPED):
    return [message for error in rendering.token_errors(body, event=event) for message in error.messages]


def test_every_event_offers_only_registered_tokens_with_description_and_sample():
    for event in EVENTS.values():
        assert event.tokens, event.key
        for name, token in event.tokens.items():
            assert TOKENS[name] is token
            assert str(token.description)


def test_every_order_status_has_an_event():
    assert {f"order_status:{status}" for status in OrderStatus.values} <= set(EVENTS)


@pytest.mark.parametrize("event,tokens", [
    # The tokens the merchants know from SEOshop, SMSAPI and Shoper.
    (SHIPPED, ["firstname", "lastname", "fullname", "order_id", "sum", "shipping_cost", "total_cost", "currency",
               "status_name", "delivery_city", "delivery_postcode", "delivery_street", "delivery_country",
               "shipping_name", "shop_name", "name", "tracking_code", "order_number"]),
    ("product:back_in_stock", ["product_name", "shop_name", "price", "currency"]),
    ("cart:abandoned", ["name", "lastname", "email", "cart_total"]),
    ("signup:code", ["code", "shop_name"]),
    ("credits:low_balance", ["balance", "shop_name"]),
])
def test_events_offer_the_tokens_merchants_know(event, tokens):
    assert set(tokens) <= set(tokens_for(event))


@pytest.mark.parametrize("body", ["Hi {firstname}, order {order_id}", "Hi [[firstname]], order [[order_id]]",
                                  "Mixed {firstname} [[lastname]]", "No tokens at all.", "Braces { alone } [x] {}"])
def test_both_syntaxes_and_plain_text_are_valid(body):
    assert _messages(body) == []


def test_a_misspelt_token_is_named_with_the_closest_valid_one():
    [message] = _messages("Hello {firstnme}, your order {order_id} is on its way")
    assert "{firstnme}" in message
    assert "Did you mean {firstname}?" in message


def test_a_misspelt_token_in_seoshop_syntax_is_named_too():
    [message] = _messages("Hello [[fulname]]")
    assert "{fulname}" in message and "{fullname}" in message


def test_every_unknown_token_is_named_once():
    messages = _messages("{foo} {bar} {foo} [[foo]]")
    assert len(messages) == 2
    assert "{foo}" in messages[0] and "{bar}" in messages[1]


@pytest.mark.parametrize("attempt", [
    "{order.customer.user.password}", "{customer.__class__}", "{shop.memberships}", "[[order.customer.email]]",
    "{firstname.__class__.__mro__}", "{order[number]}", "{firstname|upper}",
])
def test_attribute_access_attempts_are_errors(attempt):
    messages = _messages(f"Hi {attempt}")
    assert len(messages) == 1
    assert "is not a token" in messages[0]


def test_a_dotted_name_suggests_the_token_it_contains():
    [message] = _messages("Your order {order.order_id}")
    assert "Did you mean {order_id}?" in message


@pytest.mark.parametrize("body", ["Hi {{ firstname }}", "Hi {{firstname}}", "{% if firstname %}Hi{% endif %}"])
def test_template_engine_syntax_is_refused(body):
    assert any("is not supported" in message for message in _messages(body))


def test_a_token_of_another_event_is_not_available_here():
    [message] = _messages("Your code is {code}")
    assert "not available for this event" in message


def test_validate_raises_keyed_by_body():
    with pytest.raises(ValidationError) as caught:
        rendering.validate("Hi {frstname}", event=SHIPPED)
    assert "body" in caught.value.message_dict
    assert "{frstname}" in caught.value.message_dict["body"][0]


def test_an_unknown_event_is_an_error():
    with pytest.raises(ValidationError) as caught:
        rendering.validate("Hi", event="order_status:teleported")
    assert "event" in caught.value.message_dict


@given(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(lambda name: name not in TOKENS))
def test_any_unregistered_name_is_refused_and_named(name):
    for body in (f"x {{{name}}} y", f"x [[{name}]] y"):
        messages = _messages(body)
        assert len(messages) == 1 and "{" + name + "}" in messages[0]


def test_every_default_text_uses_only_its_events_tokens():
    for spec in STANDARD_TEMPLATES:
        assert rendering.token_errors(str(spec.body), event=spec.event) == [], spec.key


# --- what the merchant reads, exactly, and the codes forms and the API check -----------------------


def _errors(body, event=SHIPPED):
    return rendering.token_errors(body, event=event)


def test_an_unknown_token_message_in_full_with_its_suggestion():
    [error] = _errors("Hi {firstnme}")
    assert error.messages == ["Unknown token {firstnme}. Did you mean {firstname}?"]
    assert error.code == "unknown_token"


def test_an_unknown_token_with_nothing_close_is_named_without_a_guess():
    [error] = _errors("Hi {zebra}")
    assert error.messages == ["Unknown token {zebra}."]


def test_a_token_of_another_event_says_so_in_full():
    [error] = _errors("Your code is {code}")
    assert error.messages == ["The token {code} is not available for this event."]
    assert error.code == "unknown_token"


def test_attribute_access_says_what_a_token_is_and_what_was_meant():
    [error] = _errors("Hi {customer.firstname}")
    assert error.messages == ["{customer.firstname} is not a token: tokens are plain names such as {order_id}; "
                              "nothing else can be read. Did you mean {firstname}?"]


def test_of_a_dotted_name_the_last_token_part_is_suggested():
    [error] = _errors("Hi {firstname.lastname}")
    assert error.messages[0].endswith("Did you mean {lastname}?")


def test_a_token_in_capitals_suggests_the_token():
    [error] = _errors("Hi {FIRSTNAME}")
    assert error.messages == ["Unknown token {FIRSTNAME}. Did you mean {firstname}?"]


@pytest.mark.parametrize("body", ["Get {discount%} off", "Hi {name%s}", "Save {x%(token)s}"])
def test_a_percent_sign_in_a_token_is_named_not_a_crash(body):
    """The message is complete when made: a "%" of the merchant's text is never formatted again."""
    name = body.split("{", 1)[1].split("}", 1)[0]
    [error] = _errors(body)
    assert error.messages[0].startswith(f"{{{name}}} is not a token: ")
    with pytest.raises(ValidationError) as caught:
        rendering.validate(body, event=SHIPPED)
    assert caught.value.message_dict == {"body": error.messages}


def test_a_long_name_is_cut_in_the_message():
    exactly = "a" * 40
    [error] = _errors("{%s}" % exactly)
    assert error.messages == ["Unknown token {%s}." % exactly]
    longer = "b" * 41
    [error] = _errors("{%s}" % longer)
    assert error.messages == ["Unknown token {%s…}." % ("b" * 39)]


def test_template_engine_syntax_is_named_once_and_cut_when_long():
    errors = _errors("{{ firstname }} and {{ firstname }} and {% if x %}")
    assert [e.messages[0] for e in errors] == [
        "{{ firstname }} is not supported: write a token as {firstname} or [[firstname]].",
        "{% if x %} is not supported: write a token as {firstname} or [[firstname]].",
    ]
    assert {e.code for e in errors} == {"engine_syntax"}
    exactly = "{{ " + "y" * 34 + " }}"  # 40 characters
    longer = "{{ " + "z" * 35 + " }}"
    assert [e.messages[0].split(" is not")[0] for e in _errors(f"{exactly} {longer}")] == [
        exactly, longer[:39] + "…"]


def test_a_template_is_checked_for_its_recipient():
    assert rendering.validation_errors("Low: {balance}", event="credits:low_balance", audience="merchant") == {}
    assert rendering.validation_errors("Low: {balance}", event="credits:low_balance") == {}
    errors = rendering.validation_errors("Low: {balance}", event="credits:low_balance", audience="customer")
    assert list(errors) == ["audience"]
    assert [(e.code, e.message) for e in errors["audience"]] == [
        ("audience", "This event cannot be sent to this recipient.")]


def test_an_unknown_event_is_named_and_nothing_else_is_checked():
    errors = rendering.validation_errors("Hi {nothing}", event="order_status:teleported", audience="martian")
    assert list(errors) == ["event"]
    [error] = errors["event"]
    assert (error.messages, error.code) == (["Unknown event order_status:teleported."], "unknown_event")


def test_validate_names_every_field_at_once():
    with pytest.raises(ValidationError) as caught:
        rendering.validate("Hi {frstname} {{ x }}", event="credits:low_balance", audience="customer")
    assert sorted(caught.value.message_dict) == ["audience", "body"]
    assert len(caught.value.message_dict["body"]) == 2
    rendering.validate("Low: {balance}", event="credits:low_balance", audience="merchant")  # no error
    rendering.validate("", event="credits:low_balance")
    rendering.validate(None, event="credits:low_balance")  # a template whose text was never written


# --- the shop's limit of parts, on the longest plausible rendering -------------------------------------


@pytest.fixture
def limited_shop(db):
    shop = make_shop()
    SmsSettings.objects.filter(shop=shop).update(max_segments=2)
    return shop


def test_a_text_at_the_shops_limit_of_parts_passes_and_one_over_is_refused(limited_shop):
    # {delivery_city} is at most 20 characters: 285 + 1 + 20 = 306, two GSM-7 parts (153 each); one more is three.
    at_limit = "x" * 285 + " {delivery_city}"
    assert rendering.validation_errors(at_limit, event=SHIPPED, shop=limited_shop) == {}
    errors = rendering.validation_errors("x" + at_limit, event=SHIPPED, shop=limited_shop)
    [error] = errors["body"]
    assert error.code == "too_many_segments"
    assert error.messages == ["With long values (names, addresses, amounts) this text can take up to 3 SMS; "
                              "your shop allows 2 parts. Shorten the text or raise the limit in your SMS settings."]


def test_the_limit_is_checked_only_on_text_whose_tokens_are_valid(limited_shop):
    too_long_and_wrong = "x" * 400 + " {delivery_cty}"
    [error] = rendering.validation_errors(too_long_and_wrong, event=SHIPPED, shop=limited_shop)["body"]
    assert error.code == "unknown_token"
    assert rendering.validation_errors("", event=SHIPPED, shop=limited_shop) == {}
    assert rendering.validation_errors("x" * 400, event=SHIPPED) == {}  # no shop: no limit to check


def test_the_limit_counts_the_shops_own_longest_values(limited_shop):
    """{shop_name} is the shop's real name: a long one takes the text over the limit."""
    body = "x" * 280 + " {shop_name}"
    assert rendering.validation_errors(body, event=SHIPPED, shop=limited_shop) == {}
    limited_shop.name = "A" * 40
    limited_shop.save()
    assert rendering.segments_error(body, event=SHIPPED, shop=limited_shop).code == "too_many_segments"


# --- the registry itself: who each event texts and what it offers ----------------------------------

_CUSTOMER = {"firstname", "lastname", "fullname", "name", "email"}
_ORDER = {"order_id", "order_number", "order_date", "status_name", "sum", "shipping_cost", "total_cost", "currency",
          "shipping_name", "tracking_code", "tracking", "delivery_name", "delivery_street", "delivery_city",
          "delivery_postcode", "delivery_country"}
_COUPON = {"coupon_code", "coupon_value", "coupon_valid_until"}
_ABOUT_AN_ORDER = _CUSTOMER | _ORDER | {"shop_name"}
_ABOUT_A_TICKET = {"ticket_id", "ticket_subject", "order_id", "shop_name"} | _CUSTOMER
_AFTER_AN_ORDER = _CUSTOMER | {"order_id", "order_date", "shop_name"} | _COUPON

# event: (who receives it, its tokens, sent automatically)
REGISTRY = {
    **{f"order_status:{status}": (("customer",), _ABOUT_AN_ORDER, True) for status in OrderStatus.values},
    "order:new": (("merchant", "customer"), _ABOUT_AN_ORDER, True),
    "order:tracking": (("customer",), _ABOUT_AN_ORDER, True),
    "ticket:new": (("merchant",), _ABOUT_A_TICKET, True),
    "ticket:answered": (("customer",), _ABOUT_A_TICKET, True),
    "custom": (("customer",), _CUSTOMER | {"shop_name"}, False),
    "custom:order": (("customer",), _ABOUT_AN_ORDER, False),
    "product:back_in_stock": (("customer",), {"product_name", "price", "currency", "shop_name"} | _CUSTOMER, True),
    "cart:abandoned": (("customer",), _CUSTOMER | {"cart_total", "cart_items", "currency", "shop_name"}, True),
    "date:birthday": (("customer",), _CUSTOMER | {"shop_name"} | _COUPON, True),
    "date:after_shipped": (("customer",), _AFTER_AN_ORDER, True),
    "date:after_first_order": (("customer",), _AFTER_AN_ORDER, True),
    "date:after_last_order": (("customer",), _AFTER_AN_ORDER, True),
    "date:after_registration": (("customer",), _CUSTOMER | {"shop_name"} | _COUPON, True),
    "signup:code": (("customer",), {"code", "shop_name"}, True),
    "credits:low_balance": (("merchant",), {"balance", "shop_name"}, True),
}


def test_each_event_texts_its_recipients_and_offers_its_tokens():
    # EVENTS is built once, when tokens.py is imported: the registry is built again here so that its
    # definitions are what is checked (mutation testing swaps a function's code only after import).
    events = _events()
    assert [event.key for event in events] == list(REGISTRY)
    for event in events:
        audiences, token_names, automatic = REGISTRY[event.key]
        assert (event.audiences, set(event.token_names), event.automatic, event.sent) == (
            audiences, token_names, automatic, True), event.key
        assert event.tokens == {name: TOKENS[name] for name in event.token_names}, event.key
        # lazy: read in each reader's language (and so never None, whose str() would pass for a label)
        assert isinstance(event.label, Promise) and isinstance(event.description, Promise), event.key
        assert str(event.label).strip() and str(event.description).strip(), event.key


def test_the_status_events_are_named_after_their_status_in_the_readers_language():
    with translation.override("pl"):
        labels = {event.key: str(event.label) for event in _events()}
        assert labels["order_status:shipped"] == "Status zamówienia: Wysłane"
        assert event_label("order_status:shipped") == "Status zamówienia: Wysłane"
    assert event_label("order:new") == "New order"
    assert event_label("order_status:teleported") == "order_status:teleported"  # a key no longer registered
