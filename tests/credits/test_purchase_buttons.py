"""The buttons on a pending purchase's page work as a browser submits them: a real POST with
Django's CSRF checks on, to the form the browser associates with the button."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from credits import purchases
from credits.models import CreditPack, PurchaseStatus
from tests.factories import make_merchant, make_shop

from .helpers import balance

pytestmark = pytest.mark.django_db


class _Forms(HTMLParser):
    """Which form each submit button submits, by the HTML parsing rules browsers follow: a
    ``form="id"`` attribute names it; otherwise it is the open form, and a <form> start tag
    inside an open form is ignored (nested forms do not exist), while the first </form> closes it."""

    def __init__(self):
        super().__init__()
        self.forms, self.buttons, self._open = {}, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            if self._open is None:
                key = attrs.get("id") or f"form-{len(self.forms)}"
                self.forms[key] = {"action": attrs.get("action", ""), "method": attrs.get("method", "get"),
                                   "inputs": {}}
                self._open = key
            return
        if tag not in ("input", "button"):
            return
        owner = attrs.get("form") or self._open
        if attrs.get("type") == "submit" or (tag == "button" and attrs.get("type", "submit") == "submit"):
            self.buttons.append((attrs.get("name"), owner))
        elif attrs.get("type") == "hidden" and owner is not None and attrs.get("name"):
            self.forms[owner]["inputs"][attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def _feed(client: Client, url: str) -> _Forms:
    parser = _Forms()
    parser.feed(client.get(url).content.decode())
    return parser


def click(client: Client, page_url: str, button: str):
    """GET the page, then submit ``button`` the way the browser would."""
    parser = _feed(client, page_url)
    owner = dict(parser.buttons)[button]
    form = parser.forms[owner]
    assert form["method"].lower() == "post"
    assert form["inputs"].get("csrfmiddlewaretoken")  # the token taken from the page
    return client.post(form["action"] or page_url, {**form["inputs"], button: "x"})


@pytest.fixture
def shop(db):
    return make_shop(name="Shop A")


@pytest.fixture
def pending(shop):
    return purchases.purchase_create(shop=shop, method="bank_transfer", pack=CreditPack.objects.first())


def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_operator_confirms_the_payment_with_the_button(shop, pending, admin_user):
    url = reverse("admin:credits_purchase_change", args=[pending.pk])
    response = click(csrf_client(admin_user), url, "confirm")
    assert response.status_code == 302 and response.url == url
    pending.refresh_from_db()
    assert pending.status == PurchaseStatus.PAID
    assert balance(shop) == pending.credits


def test_operator_cancels_with_the_button(shop, pending, admin_user):
    url = reverse("admin:credits_purchase_change", args=[pending.pk])
    assert click(csrf_client(admin_user), url, "cancel").status_code == 302
    pending.refresh_from_db()
    assert pending.status == PurchaseStatus.CANCELLED


def test_merchant_cancels_their_purchase_with_the_button(shop, pending):
    url = reverse("admin:credits_purchase_change", args=[pending.pk])
    merchant = csrf_client(make_merchant(shop))
    assert "confirm" not in dict(_feed(merchant, url).buttons)  # only the operator confirms payments
    assert click(merchant, url, "cancel").status_code == 302
    pending.refresh_from_db()
    assert pending.status == PurchaseStatus.CANCELLED


def test_another_shops_merchant_gets_404(shop, pending):
    other = make_shop(name="Shop B")
    merchant = csrf_client(make_merchant(other))
    own = purchases.purchase_create(shop=other, method="bank_transfer", pack=CreditPack.objects.first())
    parser = _feed(merchant, reverse("admin:credits_purchase_change", args=[own.pk]))
    token = next(form["inputs"]["csrfmiddlewaretoken"] for form in parser.forms.values()
                 if "csrfmiddlewaretoken" in form["inputs"])  # a valid token of theirs
    response = merchant.post(reverse("admin:credits_purchase_cancel", args=[pending.pk]),
                             {"csrfmiddlewaretoken": token, "cancel": "x"})
    assert response.status_code == 404
    assert merchant.get(reverse("admin:credits_purchase_change", args=[pending.pk])).status_code == 404
    pending.refresh_from_db()
    assert pending.status == PurchaseStatus.PENDING
