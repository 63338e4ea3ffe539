"""Django's own admin phrases in Polish and Portuguese (smsnotify/django_phrases.py): the project's
catalogue phrases them for any model, where Django's Polish guesses every gender at once
("Usuń wybrane(-nych) klienci", "został(a)(-ło) pomyślnie zmieniony(-na)(-ne)")."""

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from shop.models import Customer
from smsnotify import django_phrases
from tests.factories import make_merchant, make_shop

pytestmark = pytest.mark.django_db

GUESSED_GENDER = re.compile(r"\((?:-|a\)|go\))|go/ją|nim\(i\)|Według pola")


@pytest.fixture
def polish_merchant(client):
    shop = make_shop(name="Sklep Bałtyk", country="PL", currency="PLN", language="pl", time_zone="Europe/Warsaw")
    client.force_login(make_merchant(shop))
    client.shop = shop
    return client


def test_the_customer_list_reads_polish_for_any_model(polish_merchant):
    Customer.objects.create(shop=polish_merchant.shop, first_name="Anna", last_name="Kowalska", phone="+48601234567")
    page = polish_merchant.get(reverse("admin:shop_customer_changelist")).content.decode()
    assert "Usuń zaznaczone (klienci)" in page
    assert "Filtr: " in page
    assert not GUESSED_GENDER.search(page), GUESSED_GENDER.search(page).group(0)


def test_a_deleted_customer_is_reported_in_polish(polish_merchant):
    customer = Customer.objects.create(shop=polish_merchant.shop, first_name="Anna", last_name="Kowalska",
                                       phone="+48601234567")
    response = polish_merchant.post(reverse("admin:shop_customer_delete", args=[customer.pk]), {"post": "yes"},
                                    follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said == [f"Usunięto: klient „{customer}”."]


def test_the_save_messages_read_for_any_model():
    with translation.override("pl"):
        assert gettext("The {name} “{obj}” was changed successfully.").format(name="klient", obj="Anna") \
            == "Zapisano zmiany: klient „Anna”."
        assert gettext("The {name} “{obj}” was added successfully. You may add another {name} below.").format(
            name="wiadomość", obj="SMS 3") == "Dodano: wiadomość „SMS 3”. Poniżej możesz dodać kolejną pozycję."
        assert ngettext("%(count)s %(name)s was changed successfully.",
                        "%(count)s %(name)s were changed successfully.", 5) % {"count": 5, "name": "klientów"} \
            == "Zapisano zmiany (klientów): 5."
    with translation.override("pt"):
        assert gettext("The {name} “{obj}” was changed successfully.").format(name="mensagem", obj="SMS 3") \
            == "Alterações guardadas: mensagem “SMS 3”."


@pytest.mark.parametrize("language", ["pl", "pt"])
def test_every_phrase_is_translated_without_guessing_a_gender(language):
    phrases = [*django_phrases.ACTIONS, *django_phrases.SAVED, *django_phrases.WIDGETS]
    with translation.override(language):
        for phrase in phrases:
            translated = gettext(phrase)
            assert translated != phrase, phrase
            assert not GUESSED_GENDER.search(translated), translated
        assert str(django_phrases.CHANGED_IN_LIST % {"count": 2, "name": "x"}) != "2 x were changed successfully."
