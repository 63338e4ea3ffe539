"""The shop's "Replace special characters" option, applied in one place: outbox.message_schedule."""

import pytest
from django.core.exceptions import ValidationError

from shop import services as shop_services
from shop.models import OrderStatus
from smsnotify import outbox
from smsnotify.encoding import GSM7, UCS2
from smsnotify.models import Kind, Message, SmsSettings
from templates_sms import selectors
from templates_sms.models import SmsTemplate
from tests.factories import OrderFactory, make_shop

pytestmark = pytest.mark.django_db

POLISH = "Zażółć gęślą jaźń. Dziękujemy za zamówienie w naszym sklepie, paczka już jedzie do Ciebie!"


def _replace(shop, on=True):
    SmsSettings.objects.filter(shop=shop).update(replace_special_characters=on)


def test_settings_defaults():
    settings_row = SmsSettings.objects.get(shop=make_shop())
    assert settings_row.replace_special_characters is False
    assert settings_row.max_segments == 3
    field = SmsSettings._meta.get_field("replace_special_characters")
    assert str(field.verbose_name) == "Replace special characters"
    assert "160 to 70" in str(field.help_text)


@pytest.mark.parametrize("value", [0, 11])
def test_max_segments_is_between_1_and_10(value):
    settings_row = SmsSettings.objects.get(shop=make_shop())
    settings_row.max_segments = value
    with pytest.raises(ValidationError):
        settings_row.full_clean()


def test_without_the_option_the_text_is_sent_as_written():
    shop = make_shop()
    message = outbox.message_schedule(shop=shop, to="+12025550123", body=POLISH, kind=Kind.MANUAL)
    assert (message.body, message.encoding, message.segments) == (POLISH, UCS2, 2)


def test_with_the_option_every_message_is_stored_transliterated():
    shop = make_shop()
    _replace(shop)
    message = outbox.message_schedule(shop=shop, to="+12025550123", body=POLISH, kind=Kind.MANUAL)
    message.refresh_from_db()
    assert message.body == ("Zazolc gesla jazn. Dziekujemy za zamowienie w naszym sklepie, paczka juz jedzie "
                            "do Ciebie!")
    assert (message.encoding, message.segments) == (GSM7, 1)


def test_characters_without_a_look_alike_stay():
    shop = make_shop()
    _replace(shop)
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="Dzięki 😀", kind=Kind.MANUAL)
    assert message.body == "Dzieki 😀" and message.encoding == UCS2


def test_templated_order_messages_are_transliterated_too(on_commit):
    shop = make_shop(country="PL", currency="PLN", language="pl", name="Sklep Bałtyk")
    _replace(shop)
    order = OrderFactory(shop=shop, phone="+48601234567", customer=None, number="77", tracking_code="PL123")
    with on_commit():
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    message = Message.objects.get(order=order)
    assert message.body == "Sklep Baltyk: Twoje zamowienie 77 zostalo wyslane. Numer przesylki: PL123"
    assert (message.encoding, message.segments) == (GSM7, 1)


def test_the_editor_preview_shows_the_transliterated_text():
    shop = make_shop()
    template = SmsTemplate.objects.get(shop=shop, event="custom")
    plain = selectors.template_preview(shop=shop, event=template.event, body="Cześć {firstname}, ąę")
    assert plain.info.encoding == UCS2 and plain.info.non_gsm_chars == ("ś", "ć", "ą", "ę")
    assert plain.warning.startswith("Message contains special characters: ś, ć, ą, ę")
    _replace(shop)
    replaced = selectors.template_preview(shop=shop, event=template.event, body="Cześć {firstname}, ąę")
    assert replaced.text == "Czesc Jane, ae"
    assert replaced.transliterated and replaced.warning == "" and replaced.info.encoding == GSM7
    assert replaced.replaced_characters == ("ś", "ć", "ą", "ę")
