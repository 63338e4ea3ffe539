"""Everything a merchant reads is in the shop's language: a Polish merchant's admin pages say no
English word that used to leak (model, app and field names, the index title, a model's __str__,
a pack's label) and say their Polish translations instead. Only the visible text counts: a URL,
a CSS class or a script is not read."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from shop.models import Customer, Order
from smsnotify import outbox
from smsnotify.models import Kind
from tests.factories import fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db

# English that a Polish merchant used to read in the admin.
LEAKED = [
    "Orders", "Customers", "Messages", "Carts", "Products", "Shops", "Tickets", "Store", "Back office",
    "Recipient", "Body", "Send at", "Placed at", "Created at", "Phone", "Number", "Balance after",
    "credits —", "SMS settings of", "to +48", "Credits of", "Description", "Actor",
]


class _Text(HTMLParser):
    """The text of a page as a browser shows it: no tags, attributes, scripts or styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(response) -> str:
    assert response.status_code == 200, response.status_code
    parser = _Text()
    parser.feed(response.content.decode())
    return re.sub(r"\s+", " ", "\n".join(parser.parts))


def _leaks(text: str) -> list[str]:
    return [word for word in LEAKED
            if re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text, flags=re.IGNORECASE)]


@pytest.fixture
def polish_merchant(client):
    shop = make_shop(name="Sklep Bałtyk", country="PL", currency="PLN", language="pl", time_zone="Europe/Warsaw")
    fund(shop, 6898)
    customer = Customer.objects.create(shop=shop, first_name="Anna", last_name="Kowalska", phone="+48601234567")
    order = Order.objects.create(shop=shop, number="1001", customer=customer, phone="+48601234567",
                                 currency="PLN", total=5890)
    message = outbox.message_schedule(shop=shop, to="+48601234567", body="Dzień dobry", kind=Kind.MANUAL)
    client.force_login(make_merchant(shop))
    return shop, order, message


def _pages(shop, order, message):
    return {
        "index": (reverse("admin:index"),
                  ["Panel sprzedawcy", "Sklep", "Zamówienia", "Klienci", "Wiadomości", "Koszyki", "Produkty",
                   "Zgłoszenia", "Szablony SMS", "Kredyty"]),
        "orders": (reverse("admin:shop_order_changelist"), ["Numer", "Klient", "Telefon", "Data złożenia"]),
        "order": (reverse("admin:shop_order_change", args=[order.pk]),
                  ["Numer", "Klient", "Telefon", "Data złożenia", "Kwoty", "Dostawa"]),
        "messages": (reverse("admin:smsnotify_message_changelist"), ["Utworzono", "Odbiorca", "Treść"]),
        "message": (reverse("admin:smsnotify_message_change", args=[message.pk]),
                    ["Odbiorca", "Treść", "Termin wysyłki", "Utworzono", f"SMS {message.pk} do +48601234567"]),
        "credit account": (reverse("admin:credits_creditaccount_changelist"),
                           ["Kredyty sklepu Sklep Bałtyk", "Saldo", "6 898", "Saldo po operacji", "+6 898"]),
        "ledger": (reverse("admin:credits_ledgerentry_changelist"), ["Saldo po operacji", "6 898", "+6 898"]),
        "buy credits": (reverse("admin:credits_purchase_buy"), ["1 000 kredytów — 40,00 zł", "6 898"]),
        "SMS templates": (reverse("admin:templates_sms_smstemplate_changelist"), ["Szablony SMS", "Treść"]),
    }


def test_a_polish_merchant_reads_no_english(client, polish_merchant):
    problems = []
    for name, (url, polish) in _pages(*polish_merchant).items():
        text = visible_text(client.get(url, follow=True))
        if leaks := _leaks(text):
            problems.append(f"{name} ({url}) says in English: {leaks}")
        if missing := [word for word in polish if word.casefold() not in text.casefold()]:
            problems.append(f"{name} ({url}) does not say: {missing}")
    assert not problems, "\n".join(problems)


def test_the_same_pages_in_english_still_say_english(client):
    """The check is not vacuous: an English shop's pages do show the words the Polish ones must not."""
    shop = make_shop(name="Acme")
    order = Order.objects.create(shop=shop, number="1001", phone="+12025550100", currency="USD", total=5890)
    client.force_login(make_merchant(shop))
    assert {"Orders", "Customers", "Messages", "Store", "Back office"} <= set(
        _leaks(visible_text(client.get(reverse("admin:index")))))
    assert {"Number", "Phone", "Placed at"} <= set(
        _leaks(visible_text(client.get(reverse("admin:shop_order_change", args=[order.pk])))))


# Django writes its titles around the model's name as it is: "Zobacz wysyłka masowa", "Dodaj klient".
def _title(client, url) -> str:
    page = client.get(url).content.decode()
    return re.search(r"<h1>(.*?)</h1>", page, re.S).group(1).strip()


def _add_button(client, url) -> str:
    page = client.get(url).content.decode()
    return re.search(r'class="addlink">\s*(.*?)\s*</a>', page, re.S).group(1)


def test_a_polish_merchant_reads_titles_with_the_models_name_declined(client, polish_merchant):
    from campaigns.models import BulkSend, OrderStatusRule

    shop, order, _message = polish_merchant
    bulk = BulkSend.objects.create(shop=shop, body="Wyprzedaż", send_key="00000000-0000-0000-0000-000000000001")
    rule = OrderStatusRule.objects.filter(shop=shop).first() or OrderStatusRule.objects.create(shop=shop)
    customers = reverse("admin:shop_customer_changelist")
    assert _title(client, reverse("admin:campaigns_bulksend_change", args=[bulk.pk])) == "Zobacz wysyłkę masową"
    assert _title(client, reverse("admin:shop_customer_add")) == "Dodaj klienta"
    assert _title(client, reverse("admin:shop_customer_change", args=[order.customer.pk])) == "Zmień klienta"
    assert _title(client, customers) == "Klienci"  # not "Wybierz klient do zmiany"
    assert _add_button(client, customers) == "Dodaj klienta"
    assert _title(client, reverse("admin:campaigns_orderstatusrule_change", args=[rule.pk])) == \
        "Zmień regułę statusu zamówienia"
    assert _add_button(client, reverse("admin:campaigns_orderstatusrule_changelist")) == \
        "Dodaj regułę statusu zamówienia"
    assert _add_button(client, reverse("admin:campaigns_optout_changelist")) == "Dodaj rezygnację"
    # a name that keeps its form reads with the generic phrase
    assert _title(client, reverse("admin:shop_order_change", args=[order.pk])) == "Zmień zamówienie"
    assert _title(client, reverse("admin:shop_product_add")) == "Dodaj produkt"


def test_a_portuguese_merchant_reads_no_english_view_title(client):
    from campaigns.models import BulkSend

    shop = make_shop(country="PT", currency="EUR", language="pt", time_zone="Europe/Lisbon")
    client.force_login(make_merchant(shop))
    bulk = BulkSend.objects.create(shop=shop, body="Saldos", send_key="00000000-0000-0000-0000-000000000002")
    assert _title(client, reverse("admin:campaigns_bulksend_change", args=[bulk.pk])) == "Ver envio em massa"
    assert _title(client, reverse("admin:shop_customer_changelist")) == "Clientes"


def test_in_english_the_titles_read_as_before(client):
    shop = make_shop(name="Acme")
    client.force_login(make_merchant(shop))
    assert _title(client, reverse("admin:shop_customer_add")) == "Add customer"
    assert _title(client, reverse("admin:shop_product_add")) == "Add product"
    assert _add_button(client, reverse("admin:shop_product_changelist")) == "Add product"


def test_the_template_breadcrumbs_do_not_repeat_one_name(client, polish_merchant):
    """The app and its one model were both "Szablony SMS": "Szablony SMS › Szablony SMS"."""
    page = client.get(reverse("admin:templates_sms_smstemplate_changelist")).content.decode()
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S).group(1)
    names = [name.strip() for name in re.sub(r"<[^>]+>", "", crumbs).replace("&rsaquo;", "›").split("›")]
    assert names[1:] == ["Szablony", "Szablony SMS"]
