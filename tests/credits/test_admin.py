"""Credits in the admin: tenant isolation, the balance on every page, history CSV, adjustments."""

import csv
import io

import pytest
from django.urls import reverse

from credits import purchases
from credits.models import CreditAccount, CreditPack, EntryKind, LedgerEntry
from smsnotify import outbox
from smsnotify.models import Kind, SmsSettings
from tests.factories import make_merchant, make_shop

from .helpers import balance, bare_message, charge, refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def shops(db):
    return make_shop(name="Shop A", credits=500), make_shop(name="Shop B", credits=700)


@pytest.fixture
def merchant_a(client, shops):
    client.force_login(make_merchant(shops[0]))
    return client


def rows_of(shop):
    purchase = purchases.purchase_create(shop=shop, method="bank_transfer", pack=CreditPack.objects.first())
    return {
        "account": CreditAccount.objects.get(shop=shop),
        "entry": LedgerEntry.objects.filter(shop=shop).first(),
        "purchase": purchase,
    }


@pytest.mark.parametrize("name,url", [
    ("entry", "admin:credits_ledgerentry_change"),
    ("purchase", "admin:credits_purchase_change"),
    ("purchase", "admin:credits_purchase_receipt"),
    ("purchase", "admin:credits_purchase_history"),
    ("account", "admin:credits_creditaccount_change"),
    ("account", "admin:credits_creditaccount_history"),
])
def test_another_shops_rows_are_404(merchant_a, shops, name, url):
    foreign = rows_of(shops[1])[name]
    assert merchant_a.get(reverse(url, args=[foreign.pk])).status_code == 404


@pytest.mark.parametrize("url", ["admin:credits_purchase_cancel", "admin:credits_purchase_confirm"])
def test_another_shops_purchase_cannot_be_cancelled_or_confirmed(merchant_a, shops, url):
    foreign = rows_of(shops[1])["purchase"]
    assert merchant_a.post(reverse(url, args=[foreign.pk])).status_code in (403, 404)
    foreign.refresh_from_db()
    assert foreign.status == "pending"


def test_forged_cancel_action_ids_are_ignored(merchant_a, shops):
    foreign = rows_of(shops[1])["purchase"]
    merchant_a.post(reverse("admin:credits_purchase_changelist"),
                    {"action": "cancel_selected", "_selected_action": [foreign.pk]})
    foreign.refresh_from_db()
    assert foreign.status == "pending"


@pytest.mark.parametrize("url", ["admin:credits_ledgerentry_changelist", "admin:credits_purchase_changelist"])
def test_lists_show_only_own_rows(merchant_a, shops, url):
    rows_of(shops[0]), rows_of(shops[1])
    response = merchant_a.get(reverse(url))
    shown = {obj.shop_id for obj in response.context["cl"].result_list}
    assert shown == {shops[0].pk}


def test_own_rows_open(merchant_a, shops):
    own = rows_of(shops[0])
    for url, pk in [("admin:credits_ledgerentry_change", own["entry"].pk),
                    ("admin:credits_purchase_change", own["purchase"].pk),
                    ("admin:credits_purchase_receipt", own["purchase"].pk),
                    ("admin:credits_creditaccount_change", own["account"].pk)]:
        assert merchant_a.get(reverse(url, args=[pk])).status_code == 200, url


def test_merchants_cannot_adjust_or_touch_the_ledger(merchant_a, shops):
    own = rows_of(shops[0])
    assert merchant_a.get(reverse("admin:credits_creditaccount_adjust", args=[own["account"].pk])).status_code == 403
    response = merchant_a.post(reverse("admin:credits_creditaccount_adjust", args=[own["account"].pk]),
                               {"amount": "1000", "reason": "free money"})
    assert response.status_code == 403
    assert merchant_a.get(reverse("admin:credits_ledgerentry_delete", args=[own["entry"].pk])).status_code == 403
    assert merchant_a.get(reverse("admin:credits_ledgerentry_add")).status_code == 403
    assert balance(shops[0]) == 500


def test_platform_pricing_and_packs_are_the_operators(merchant_a):
    for url in ("admin:credits_pricingsettings_changelist", "admin:credits_creditpack_changelist",
                "admin:credits_destinationrate_changelist"):
        assert merchant_a.get(reverse(url)).status_code == 403


def test_operator_adjusts_with_a_required_reason(admin_client, shops):
    account = CreditAccount.objects.get(shop=shops[0])
    url = reverse("admin:credits_creditaccount_adjust", args=[account.pk])
    assert "Adjust credits" in admin_client.get(reverse("admin:credits_creditaccount_change",
                                                        args=[account.pk])).content.decode()
    missing = admin_client.post(url, {"amount": "100", "reason": "  "})
    assert missing.status_code == 200 and "reason" in missing.context["form"].errors
    too_much = admin_client.post(url, {"amount": "-501", "reason": "oops"})
    assert too_much.status_code == 200 and "cannot go below zero" in too_much.content.decode()
    done = admin_client.post(url, {"amount": "-200", "reason": "double-credited transfer"})
    assert done.status_code == 302
    entry = LedgerEntry.objects.filter(shop=shops[0]).latest("pk")
    assert (entry.kind, entry.amount, entry.reason, entry.actor) == (
        EntryKind.ADJUSTMENT, -200, "double-credited transfer", "admin")
    assert balance(shops[0]) == 300


def test_operator_pricing_settings_are_a_single_editable_row(admin_client):
    response = admin_client.get(reverse("admin:credits_pricingsettings_changelist"))
    assert response.status_code == 302
    page = admin_client.get(response.url)
    assert page.status_code == 200 and "credits per segment, domestic" in page.content.decode().lower()


# --- the balance on every page -------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "admin:smsnotify_message_changelist", "admin:smsnotify_smssettings_changelist", "admin:index",
    "admin:credits_ledgerentry_changelist",
])
def test_merchant_sees_the_balance_with_a_buy_link(merchant_a, url):
    page = merchant_a.get(reverse(url), follow=True).content.decode()
    assert 'id="credits-badge"' in page and "Credits: <strong>500</strong>" in page
    assert reverse("admin:credits_purchase_buy") in page


def test_balance_on_sms_settings_and_message_pages(merchant_a, shops):
    message = outbox.message_schedule(shop=shops[0], to="+12025550123", body="hi", kind=Kind.MANUAL)
    for url in (reverse("admin:smsnotify_message_change", args=[message.pk]),
                reverse("admin:smsnotify_smssettings_change", args=[SmsSettings.objects.get(shop=shops[0]).pk])):
        assert "Credits: <strong>500</strong>" in merchant_a.get(url).content.decode()


def test_low_balance_is_flagged(client):
    shop = make_shop(credits=5)
    client.force_login(make_merchant(shop))
    page = client.get(reverse("admin:index")).content.decode()
    assert "credits-low" in page and "Credits: <strong>5</strong>" in page


def test_operator_sees_no_shop_balance(admin_client, shops):
    page = admin_client.get(reverse("admin:smsnotify_message_changelist")).content.decode()
    assert 'id="credits-badge"' not in page


# --- CSV export ------------------------------------------------------------------------------------


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_of_the_filtered_history(merchant_a, shops):
    shop = shops[0]
    message = bare_message(shop, to="+447911123456", segments=2)
    charge(message)
    refund(message, reason="=HYPERLINK(\"http://evil\")")  # a formula in free text
    rows_of(shops[1])  # another shop's rows never appear
    everything = read_csv(merchant_a.get(reverse("admin:credits_ledgerentry_export")))
    assert everything[0] == ["date (UTC)", "kind", "credits", "balance after", "message", "recipient", "purchase",
                             "reason", "by"]
    assert [(r[1], r[2], r[3]) for r in everything[1:]] == [
        ("refund", "60", "500"), ("charge", "-60", "440"), ("bonus", "500", "500")]
    refund_row = everything[1]
    assert (refund_row[4], refund_row[5]) == (str(message.pk), "+447911123456")
    assert refund_row[7].startswith("'=")  # neutralised for spreadsheets
    charges = read_csv(merchant_a.get(reverse("admin:credits_ledgerentry_export") + "?kind__exact=charge"))
    assert [r[1] for r in charges[1:]] == ["charge"]


def test_csv_export_button_keeps_the_filters(merchant_a):
    page = merchant_a.get(reverse("admin:credits_ledgerentry_changelist") + "?kind__exact=charge").content.decode()
    assert reverse("admin:credits_ledgerentry_export") + "?kind__exact=charge" in page


def test_csv_export_action_of_selected_rows(merchant_a, shops):
    charge(bare_message(shops[0]))
    entries = list(LedgerEntry.objects.filter(shop=shops[0]).order_by("pk"))
    foreign = LedgerEntry.objects.filter(shop=shops[1]).first()
    response = merchant_a.post(reverse("admin:credits_ledgerentry_changelist"), {
        "action": "export_selected_csv", "_selected_action": [entries[1].pk, foreign.pk]})
    rows = read_csv(response)
    assert [r[1] for r in rows[1:]] == ["charge"]  # the forged foreign id is filtered out


def test_operator_csv_names_the_shop(admin_client, shops):
    rows = read_csv(admin_client.get(reverse("admin:credits_ledgerentry_export")))
    assert rows[0][1] == "shop"
    assert {r[1] for r in rows[1:]} == {"Shop A", "Shop B"}


def test_history_filters_by_kind_and_date(merchant_a, shops):
    charge(bare_message(shops[0]))
    url = reverse("admin:credits_ledgerentry_changelist")
    charges = merchant_a.get(url, {"kind__exact": "charge"}).context["cl"].result_list
    assert [e.kind for e in charges] == ["charge"]
    today = merchant_a.get(url, {"created_at__gte": "2000-01-01 00:00:00+00:00"}).context["cl"].result_list
    assert len(today) == 2


def test_merchant_sets_the_threshold_in_the_admin(client):
    shop = make_shop(credits=100)
    client.force_login(make_merchant(shop))
    account = CreditAccount.objects.get(shop=shop)
    url = reverse("admin:credits_creditaccount_change", args=[account.pk])
    assert client.get(reverse("admin:credits_creditaccount_changelist")).url == url
    response = client.post(url, {"low_balance_threshold": "150", "balance": "999999"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.low_balance_threshold, account.balance) == (150, 100)  # the balance is not a form field


# --- a message's page: what the ledger took and gave back ------------------------------------------


def _credits_field(page: str) -> str:
    import re

    match = re.search(r'<div class="form-row field-credits_ledger">.*?<div class="readonly">(.*?)</div>', page, re.S)
    assert match, "no credits field on the page"
    return match.group(1).strip()


def test_a_failed_message_shows_what_was_charged_and_refunded(merchant_a, shops, gateway_errors):
    """It said "Credits charged: 0": the message's own field is net of the refund."""
    from smsnotify.gateways import PermanentGatewayError
    from tests.delivery import deliver

    message = outbox.message_schedule(shop=shops[0], to="+12025550123", body="hi", kind=Kind.MANUAL)
    gateway_errors.append(PermanentGatewayError("invalid To", code="21211"))
    deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.credits_charged) == ("failed", 0)
    page = merchant_a.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
    assert _credits_field(page) == "12 charged, 12 refunded"


def test_a_sent_message_shows_its_charge_and_an_uncharged_one_its_zero(merchant_a, shops):
    sent, waiting = bare_message(shops[0]), bare_message(shops[0], to="+12025550124")
    assert charge(sent)
    for message, shown in ((sent, "12 charged"), (waiting, "0")):
        page = merchant_a.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
        assert _credits_field(page) == shown


def test_the_credits_read_in_the_shops_language(client):
    shop = make_shop(country="PL", currency="PLN", language="pl", credits=10_000)
    client.force_login(make_merchant(shop))
    message = bare_message(shop, to="+48601234567", segments=3)
    assert charge(message) and refund(message, reason="failed")
    page = client.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
    assert _credits_field(page) == "pobrano 36, zwrócono 36"


def test_a_charge_paid_from_held_credits_counts_what_it_cost():
    """A bulk send's message is charged from its hold with a ledger row of 0."""
    from credits import ledger
    from credits.selectors import MessageCredits, message_credits

    shop = make_shop(credits=100)
    ledger.credits_hold(shop=shop, amount=36, reference="bulk:1")
    message = bare_message(shop, batch_ref="bulk:1")
    assert charge(message)
    message.refresh_from_db()
    assert message_credits(message=message) == MessageCredits(charged=12, refunded=0)
    assert refund(message, reason="failed")
    message.refresh_from_db()
    assert message_credits(message=message) == MessageCredits(charged=12, refunded=12)
    assert charge(message)  # sent again: a new cycle, charged again
    message.refresh_from_db()
    assert message_credits(message=message) == MessageCredits(charged=24, refunded=12)
