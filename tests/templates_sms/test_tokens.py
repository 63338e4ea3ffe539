"""Token validation: merchant text may use only the tokens its event offers, in {x} or [[x]]."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, strategies as st

from shop.models import OrderStatus
from templates_sms import rendering
from templates_sms.defaults import STANDARD_TEMPLATES
from templates_sms.tokens import EVENTS, TOKENS, tokens_for

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
