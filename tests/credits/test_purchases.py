"""Packs and purchases: pay now, pay later (webhook, operator), cancel, expire — credited exactly once."""

import datetime as dt
import json
import uuid

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from credits import purchases
from credits.models import CreditPack, EntryKind, LedgerEntry, PricingSettings, Purchase, PurchaseStatus
from credits.payments import sandbox
from credits.tasks import expire_pending_purchases
from tests.factories import make_merchant, make_shop

from .helpers import assert_consistent, balance, refusal

pytestmark = pytest.mark.django_db

WEBHOOK = "/webhooks/payments/sandbox/"


def pack(credits=1000) -> CreditPack:
    return CreditPack.objects.get(credits=credits)


def buy(shop, method="sandbox_card", credits_=1000, **kwargs):
    return purchases.purchase_create(shop=shop, method=method, pack=pack(credits_), **kwargs)


def post_webhook(client, payload, *, signature=None):
    body = json.dumps(payload).encode()
    return client.post(WEBHOOK, body, content_type="application/json",
                       headers={"X-Sandbox-Signature": signature if signature is not None else sandbox.sign(body)})


# --- packs and prices -----------------------------------------------------------------------


def test_default_packs_are_1000_2000_5000():
    assert list(CreditPack.objects.filter(active=True).values_list("credits", flat=True)) == [1000, 2000, 5000]


def test_pack_is_priced_in_the_shops_currency(db):
    quote = purchases.purchase_quote(shop=make_shop(country="PL", currency="PLN"), pack=pack(2000))
    assert (quote.credits, quote.amount, quote.currency) == (2000, 7600, "PLN")


def test_pack_without_a_price_in_the_currency_cannot_be_bought(db):
    with pytest.raises(ValidationError):
        purchases.purchase_quote(shop=make_shop(country="JP", currency="JPY"), pack=pack())


def test_custom_amount_has_a_minimum_and_rounds_up(db):
    shop = make_shop(country="BR", currency="BRL")
    with pytest.raises(ValidationError, match="minimum purchase is 300"):
        purchases.purchase_quote(shop=shop, credits=299)
    quote = purchases.purchase_quote(shop=shop, credits=300)
    assert (quote.credits, quote.amount) == (300, 225)  # R$ 0.0075 a credit: 12 credits = R$ 0.09 an SMS
    assert purchases.purchase_quote(shop=shop, credits=301).amount == 226  # 225.75 rounds up
    PricingSettings.objects.update(minimum_purchase_credits=500)
    with pytest.raises(ValidationError):
        purchases.purchase_quote(shop=shop, credits=300)


# --- pay now ------------------------------------------------------------------------------------


def test_card_purchase_is_paid_and_credited_at_once(db):
    shop = make_shop()
    purchase = buy(shop)
    assert purchase.status == PurchaseStatus.PAID
    assert (purchase.amount, purchase.currency, purchase.confirmed_via) == (1000, "USD", "instant")
    assert balance(shop) == 1000
    entry = LedgerEntry.objects.get(purchase=purchase)
    assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.PURCHASE, 1000, 1000)


def test_platform_balance_pays_at_once_too(db):
    shop = make_shop(country="BR", currency="BRL")
    purchase = purchases.purchase_create(shop=shop, method="platform_balance", credits=300)
    assert (purchase.status, balance(shop)) == (PurchaseStatus.PAID, 300)


def test_declined_card_credits_nothing(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("payer", "payer+declined@example.com", "pw")
    shop = make_shop()
    purchase = buy(shop, user=user)
    assert purchase.status == PurchaseStatus.FAILED
    assert "declined" in purchase.note
    assert balance(shop) == 0


def test_same_idempotency_key_buys_once(db):
    shop = make_shop()
    key = uuid.uuid4()
    first, second = buy(shop, idempotency_key=key), buy(shop, idempotency_key=key)
    assert first.pk == second.pk
    assert balance(shop) == 1000


def test_boleto_is_offered_only_in_brl(db):
    with pytest.raises(ValidationError):
        buy(make_shop(), method="boleto")
    assert buy(make_shop(country="BR", currency="BRL"), method="boleto").status == PurchaseStatus.PENDING


# --- pay later ------------------------------------------------------------------------------------


def test_bank_transfer_waits_for_payment(db):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    assert purchase.status == PurchaseStatus.PENDING
    assert purchase.number in purchase.instructions and "IBAN" in purchase.instructions
    assert purchase.expires_at - purchase.created_at == dt.timedelta(hours=72)
    assert balance(shop) == 0


def test_operator_confirm_twice_credits_once(db, admin_user):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    assert purchases.purchase_confirm(purchase=purchase, via="operator", user=admin_user)
    assert not purchases.purchase_confirm(purchase=purchase, via="operator", user=admin_user)
    assert balance(shop) == 1000
    assert LedgerEntry.objects.filter(purchase=purchase).count() == 1
    purchase.refresh_from_db()
    assert (purchase.status, purchase.confirmed_by, purchase.confirmed_via) == (PurchaseStatus.PAID, admin_user, "operator")


def test_webhook_credits_once_however_often_it_arrives(client):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    payload = {"reference": purchase.provider_reference, "status": "paid"}
    for _ in range(3):
        response = post_webhook(client, payload)
        assert response.status_code == 200
    assert balance(shop) == 1000
    purchase.refresh_from_db()
    assert (purchase.status, purchase.confirmed_via) == (PurchaseStatus.PAID, "webhook")
    assert LedgerEntry.objects.filter(purchase=purchase).count() == 1


@pytest.mark.parametrize("signature", ["", "0" * 64, "not-hex"])
def test_webhook_with_a_bad_signature_is_403_and_changes_nothing(client, signature):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    response = post_webhook(client, {"reference": purchase.provider_reference, "status": "paid"}, signature=signature)
    assert response.status_code == 403
    purchase.refresh_from_db()
    assert (purchase.status, balance(shop)) == (PurchaseStatus.PENDING, 0)


def test_webhook_signed_for_another_body_is_403(client):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    other = json.dumps({"reference": "SBP-other", "status": "paid"}).encode()
    response = post_webhook(client, {"reference": purchase.provider_reference, "status": "paid"},
                            signature=sandbox.sign(other))
    assert response.status_code == 403
    assert balance(shop) == 0


def test_webhook_for_an_unknown_reference_is_404(client):
    assert post_webhook(client, {"reference": "SBP-nope", "status": "paid"}).status_code == 404


def test_webhook_for_an_unknown_provider_is_404_and_only_post_is_allowed(client):
    assert client.post("/webhooks/payments/nope/", b"{}", content_type="application/json").status_code == 404
    assert client.get(WEBHOOK).status_code == 405


def test_signed_garbage_is_400(client):
    body = b"not json"
    response = client.post(WEBHOOK, body, content_type="application/json",
                           headers={"X-Sandbox-Signature": sandbox.sign(body)})
    assert response.status_code == 400


def test_webhook_can_cancel_a_pending_purchase(client):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    assert post_webhook(client, {"reference": purchase.provider_reference, "status": "cancelled"}).status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED


def test_cancelled_purchase_is_not_confirmed_by_the_operator(db, admin_user):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    assert purchases.purchase_cancel(purchase=purchase, user=admin_user)
    assert not purchases.purchase_cancel(purchase=purchase, user=admin_user)
    assert not purchases.purchase_confirm(purchase=purchase, via="operator", user=admin_user)
    assert balance(shop) == 0


def test_paid_purchase_cannot_be_cancelled(db):
    shop = make_shop()
    purchase = buy(shop)
    assert not purchases.purchase_cancel(purchase=purchase)
    assert (purchase.status, balance(shop)) == (PurchaseStatus.PAID, 1000)


def test_pending_purchases_expire(db):
    shop = make_shop()
    old, fresh, paid = buy(shop, method="bank_transfer"), buy(shop, method="bank_transfer"), buy(shop)
    Purchase.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert expire_pending_purchases() == 1
    assert expire_pending_purchases() == 0
    statuses = {p.pk: p.status for p in Purchase.objects.all()}
    assert statuses == {old.pk: PurchaseStatus.EXPIRED, fresh.pk: PurchaseStatus.PENDING, paid.pk: PurchaseStatus.PAID}
    with time_machine.travel(timezone.now() + dt.timedelta(hours=73)):
        assert expire_pending_purchases() == 1
    assert not purchases.purchase_confirm(purchase=old, via="operator")  # the operator cannot confirm it any more
    assert balance(shop) == 1000


def test_money_arriving_after_expiry_is_still_credited_once(client):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    Purchase.objects.filter(pk=purchase.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    expire_pending_purchases()
    payload = {"reference": purchase.provider_reference, "status": "paid"}
    assert post_webhook(client, payload).status_code == 200
    assert post_webhook(client, payload).status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID
    assert balance(shop) == 1000
    assert_consistent(shop)


def test_expiry_task_is_on_beats_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["expire-pending-purchases"]
    assert entry["task"] == expire_pending_purchases.name == "credits.expire_pending_purchases"


# --- the admin flow ------------------------------------------------------------------------------


@pytest.fixture
def merchant(client, db):
    shop = make_shop(name="Buyer")
    client.force_login(make_merchant(shop))
    client.shop = shop
    return client


BUY = "/admin/credits/purchase/buy/"


def test_merchant_buys_a_pack_in_three_steps(merchant):
    first = merchant.get(BUY)
    assert first.status_code == 200 and first.context["step"] == "pack"
    assert "1,000 credits" in first.content.decode() and "$10.00" in first.content.decode()
    second = merchant.post(BUY, {"step": "pack", "option": str(pack(2000).pk)})
    assert second.context["step"] == "method"
    assert "$19.00" in second.content.decode()
    third = merchant.post(BUY, {"step": "method", "option": str(pack(2000).pk), "method": "sandbox_card"})
    assert third.context["step"] == "confirm"
    token = third.context["form"].initial["token"]
    confirm = {"step": "confirm", "option": str(pack(2000).pk), "method": "sandbox_card", "token": str(token)}
    done = merchant.post(BUY, confirm)
    assert done.status_code == 302
    assert merchant.post(BUY, confirm).status_code == 302  # a double click
    purchase = Purchase.objects.get(shop=merchant.shop)
    assert (purchase.credits, purchase.amount, purchase.status) == (2000, 1900, PurchaseStatus.PAID)
    assert done.url == reverse("admin:credits_purchase_change", args=[purchase.pk])
    assert balance(merchant.shop) == 2000


def test_merchant_must_choose_a_method(merchant):
    response = merchant.post(BUY, {"step": "method", "option": str(pack().pk)})
    assert response.context["step"] == "method"
    assert "Choose how to pay" in response.content.decode()
    assert not Purchase.objects.exists()


def test_custom_amount_below_the_minimum_is_a_form_error(merchant):
    response = merchant.post(BUY, {"step": "pack", "option": "custom", "custom_credits": "299"})
    assert response.context["step"] == "pack"
    assert "minimum purchase is 300" in response.content.decode()


def test_forged_confirm_cannot_buy_below_the_minimum(merchant):
    response = merchant.post(BUY, {"step": "confirm", "option": "custom", "custom_credits": "5",
                                   "method": "sandbox_card", "token": str(uuid.uuid4())})
    assert response.status_code == 200
    assert not Purchase.objects.exists()


def test_pending_purchase_page_cancel_by_merchant_confirm_by_operator(merchant, admin_client):
    purchase = buy(merchant.shop, method="bank_transfer")
    page = merchant.get(reverse("admin:credits_purchase_change", args=[purchase.pk])).content.decode()
    assert "IBAN" in page and "Cancel this purchase" in page and "Confirm payment received" not in page
    # a merchant cannot confirm their own transfer
    assert merchant.post(reverse("admin:credits_purchase_confirm", args=[purchase.pk])).status_code == 403
    assert balance(merchant.shop) == 0
    operator_page = admin_client.get(reverse("admin:credits_purchase_change", args=[purchase.pk])).content.decode()
    assert "Confirm payment received" in operator_page
    admin_client.post(reverse("admin:credits_purchase_confirm", args=[purchase.pk]))
    admin_client.post(reverse("admin:credits_purchase_confirm", args=[purchase.pk]))
    assert balance(merchant.shop) == 1000
    other = buy(merchant.shop, method="bank_transfer")
    merchant.post(reverse("admin:credits_purchase_cancel", args=[other.pk]))
    other.refresh_from_db()
    assert other.status == PurchaseStatus.CANCELLED


def test_operator_confirms_with_the_bulk_action(admin_client):
    shop = make_shop()
    pending = [buy(shop, method="bank_transfer") for _ in range(2)]
    data = {"action": "confirm_selected", "_selected_action": [p.pk for p in pending]}
    admin_client.post(reverse("admin:credits_purchase_changelist"), data)
    admin_client.post(reverse("admin:credits_purchase_changelist"), data)
    assert balance(shop) == 2000


def test_merchants_do_not_get_the_confirm_action(merchant):
    purchase = buy(merchant.shop, method="bank_transfer")
    response = merchant.get(reverse("admin:credits_purchase_changelist"))
    offered = [name for name, _label in response.context["action_form"].fields["action"].choices]
    assert "cancel_selected" in offered and "confirm_selected" not in offered
    merchant.post(reverse("admin:credits_purchase_changelist"),
                  {"action": "confirm_selected", "_selected_action": [purchase.pk]})
    assert balance(merchant.shop) == 0


def test_receipt_is_printable_html(merchant):
    purchase = buy(merchant.shop)
    response = merchant.get(reverse("admin:credits_purchase_receipt", args=[purchase.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    for text in ("Receipt", purchase.number, "Buyer", "$10.00", "SMS credits, pack of 1,000 credits", "Card (sandbox)",
                 "window.print()", "@media print"):
        assert text in page


def test_operator_cannot_use_the_buy_page(admin_client):
    assert admin_client.get(BUY).status_code == 403


def test_custom_amount_above_the_maximum_is_a_form_error(merchant):
    response = merchant.post(BUY, {"step": "pack", "option": "custom", "custom_credits": str(10**12)})
    assert response.context["step"] == "pack"
    assert response.context["form"].errors["custom_credits"] == ["At most 1,000,000 credits can be bought at once."]
    assert merchant.post(BUY, {"step": "pack", "option": "custom", "custom_credits": "1000000"}).context["step"] == "method"


def test_forged_confirm_cannot_buy_above_the_maximum(merchant, settings):
    settings.CREDITS_CUSTOM_MAX = 5000
    response = merchant.post(BUY, {"step": "confirm", "option": "custom", "custom_credits": "5001",
                                   "method": "sandbox_card", "token": str(uuid.uuid4())})
    assert response.status_code == 200
    assert response.context["form"].errors["custom_credits"] == ["At most 5,000 credits can be bought at once."]
    assert not Purchase.objects.exists()


def test_receipt_times_are_in_the_shops_zone_and_say_which(client, db):
    shop = make_shop(name="Buyer", time_zone="America/New_York")
    client.force_login(make_merchant(shop))
    with time_machine.travel(dt.datetime(2026, 1, 15, 3, 30, tzinfo=dt.UTC), tick=False):
        purchase = buy(shop)
    page = client.get(reverse("admin:credits_purchase_receipt", args=[purchase.pk])).content.decode()
    assert "2026-01-14 22:30 EST" in page  # ordered and paid at once, by card
    assert "UTC" not in page


def test_the_purchase_page_names_who_bought_without_linking_to_user_accounts(merchant):
    user = merchant.get(reverse("admin:index")).wsgi_request.user
    purchase = buy(merchant.shop, user=user)
    page = merchant.get(reverse("admin:credits_purchase_change", args=[purchase.pk])).content.decode()
    assert user.get_username() in page
    assert "/admin/auth/user/" not in page  # a merchant may not open it: the link was a 403


# --- what a wrong filter or a late webhook would cost the merchant ---------------------------


def test_cancelling_one_pending_purchase_leaves_the_others_pending(db, admin_user):
    shop, other_shop = make_shop(), make_shop()
    purchase, sibling, foreign = buy(shop, method="bank_transfer"), buy(shop, method="bank_transfer"), \
        buy(other_shop, method="bank_transfer")
    assert purchases.purchase_cancel(purchase=purchase, user=admin_user)
    statuses = {p.pk: p.status for p in Purchase.objects.all()}
    assert statuses == {purchase.pk: PurchaseStatus.CANCELLED, sibling.pk: PurchaseStatus.PENDING,
                        foreign.pk: PurchaseStatus.PENDING}
    purchase.refresh_from_db()
    assert purchase.note == f"Cancelled by {admin_user.get_username()}."
    assert purchase.closed_at is not None


def test_a_cancel_gives_its_reason_or_says_cancelled(db):
    shop = make_shop()
    with_reason, without = buy(shop, method="bank_transfer"), buy(shop, method="bank_transfer")
    purchases.purchase_cancel(purchase=with_reason, reason="Bought by mistake")
    purchases.purchase_cancel(purchase=without)
    assert (with_reason.note, without.note) == ("Bought by mistake", "Cancelled.")


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_a_late_failed_or_cancelled_webhook_leaves_a_paid_purchase_paid(client, status):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    assert post_webhook(client, {"reference": purchase.provider_reference, "status": "paid"}).status_code == 200
    assert post_webhook(client, {"reference": purchase.provider_reference, "status": status}).status_code == 200
    purchase.refresh_from_db()
    assert (purchase.status, purchase.closed_at, balance(shop)) == (PurchaseStatus.PAID, None, 1000)


@pytest.mark.parametrize(("status", "expected"), [("failed", PurchaseStatus.FAILED),
                                                  ("cancelled", PurchaseStatus.CANCELLED)])
def test_the_providers_failed_or_cancelled_event_closes_only_that_pending_purchase(client, status, expected):
    shop = make_shop()
    purchase, sibling = buy(shop, method="bank_transfer"), buy(shop, method="bank_transfer")
    assert post_webhook(client, {"reference": purchase.provider_reference, "status": status}).status_code == 200
    purchase.refresh_from_db()
    sibling.refresh_from_db()
    assert (purchase.status, sibling.status) == (expected, PurchaseStatus.PENDING)
    assert purchase.note == f"The payment provider reported it {status}."
    assert purchase.closed_at is not None
    assert balance(shop) == 0


def test_an_unknown_event_status_changes_nothing(db):
    from credits.payments import PaymentEvent

    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    found = purchases.payment_event_apply(provider=purchase.provider, event=PaymentEvent(
        provider_reference=purchase.provider_reference, status="processing"))
    assert found == purchase
    assert found.status == PurchaseStatus.PENDING


def test_an_event_is_matched_by_provider_and_reference(db):
    from credits.payments import PaymentEvent

    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    event = PaymentEvent(provider_reference=purchase.provider_reference, status="paid")
    assert purchases.payment_event_apply(provider="another-provider", event=event) is None
    assert purchases.payment_event_apply(provider=purchase.provider, event=PaymentEvent(
        provider_reference="SBP-someone-else", status="paid")) is None
    assert balance(shop) == 0


@pytest.mark.parametrize("closed_as", [PurchaseStatus.FAILED, PurchaseStatus.CANCELLED, PurchaseStatus.EXPIRED])
def test_money_that_arrives_for_a_closed_purchase_is_credited(client, closed_as):
    shop = make_shop()
    purchase = buy(shop, method="bank_transfer")
    Purchase.objects.filter(pk=purchase.pk).update(status=closed_as, closed_at=timezone.now())
    assert post_webhook(client, {"reference": purchase.provider_reference, "status": "paid"}).status_code == 200
    purchase.refresh_from_db()
    assert (purchase.status, purchase.closed_at, balance(shop)) == (PurchaseStatus.PAID, None, 1000)
    assert_consistent(shop)


def test_a_declined_card_fails_only_its_own_purchase(db):
    from django.contrib.auth import get_user_model

    waiting = buy(make_shop(), method="bank_transfer")  # another shop's pending transfer
    mine_waiting = buy(make_shop(), method="bank_transfer")
    payer = get_user_model().objects.create_user("payer2", "payer+declined@example.com", "pw")
    declined = buy(mine_waiting.shop, user=payer)
    assert declined.status == PurchaseStatus.FAILED and declined.closed_at is not None
    waiting.refresh_from_db()
    mine_waiting.refresh_from_db()
    assert (waiting.status, mine_waiting.status) == (PurchaseStatus.PENDING, PurchaseStatus.PENDING)


def test_an_idempotency_key_is_per_shop_a_key_of_another_shop_buys_anew(db):
    key = uuid.uuid4()
    theirs = buy(make_shop(), idempotency_key=key)
    mine = buy(make_shop(), idempotency_key=key)
    assert mine.pk != theirs.pk and mine.shop != theirs.shop
    assert buy(mine.shop, idempotency_key=key).pk == mine.pk  # the same form again: the same purchase
    later = buy(mine.shop, method="bank_transfer")  # another purchase of the shop, with its own key
    assert buy(mine.shop, idempotency_key=later.idempotency_key).pk == later.pk
    assert buy(mine.shop, idempotency_key=key).pk == mine.pk


def test_a_purchase_records_who_bought_and_who_confirmed_when(db, admin_user):
    from django.contrib.auth import get_user_model

    buyer = get_user_model().objects.create_user("buyer3", "buyer3@example.com", "pw")
    shop = make_shop()
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        purchase = buy(shop, method="bank_transfer", user=buyer)
        assert purchases.purchase_confirm(purchase=purchase, via="operator", user=admin_user)
    purchase.refresh_from_db()
    assert (purchase.created_by, purchase.confirmed_by) == (buyer, admin_user)
    assert purchase.paid_at == dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    entry = LedgerEntry.objects.get(purchase=purchase)
    assert (entry.created_by, entry.actor, entry.reason) == (admin_user, admin_user.get_username(),
                                                             purchase.description)


# --- what a refused quote says, and what the provider is asked for ---------------------------------


def test_each_refused_purchase_says_why_with_its_code(db, settings):
    jpy, brl = make_shop(country="JP", currency="JPY"), make_shop(country="BR", currency="BRL")
    assert refusal(lambda: purchases.purchase_quote(shop=jpy, pack=pack())) == (
        "not_priced", "This pack cannot be bought in JPY.")
    retired = pack(5000)
    retired.active = False
    retired.save()
    assert refusal(lambda: purchases.purchase_quote(shop=brl, pack=retired)) == (
        "not_priced", "This pack cannot be bought in BRL.")  # priced in BRL, but no longer sold
    assert refusal(lambda: purchases.purchase_quote(shop=jpy, credits=1000)) == (
        "not_priced", "Custom amounts cannot be bought in JPY; choose a pack.")
    assert refusal(lambda: purchases.purchase_quote(shop=brl, credits=None)) == (
        "below_minimum", "The minimum purchase is 300 credits.")
    settings.CREDITS_CUSTOM_MAX = 5000
    assert refusal(lambda: purchases.purchase_quote(shop=brl, credits=5001)) == (
        "above_maximum", "At most 5,000 credits can be bought at once.")
    assert purchases.purchase_quote(shop=brl, credits=5000).credits == 5000
    assert refusal(lambda: buy(make_shop(), method="boleto")) == (
        "bad_method", "This payment method is not available.")
    assert refusal(lambda: buy(make_shop(), method="no_such_method")) == (
        "bad_method", "This payment method is not available.")
    assert not Purchase.objects.exists()


def test_a_custom_amount_costs_its_share_of_the_price_per_thousand(db):
    quote = purchases.purchase_quote(shop=make_shop(country="BR", currency="BRL"), credits=10_000)
    assert quote == purchases.Quote(10_000, 7500, "BRL", "10,000 SMS credits")  # R$ 7.50 a thousand, no pack


def test_the_provider_is_asked_for_the_purchase_its_amount_and_the_buyers_email(db, monkeypatch):
    from django.contrib.auth import get_user_model

    asked = []
    start = sandbox.SandboxPaymentProvider.start
    monkeypatch.setattr(sandbox.SandboxPaymentProvider, "start", lambda self, request: asked.append(request) or start(
        self, request))
    buyer = get_user_model().objects.create_user("buyer4", "buyer4@example.com", "pw")
    nameless = get_user_model().objects.create_user("buyer5", "", "pw")
    shop = make_shop(country="PL", currency="PLN")
    purchase = buy(shop, method="bank_transfer", credits_=2000, user=buyer)
    buy(shop, method="bank_transfer", user=nameless)
    buy(shop, method="bank_transfer")
    assert (purchase.pack, purchase.credits, purchase.amount, purchase.currency) == (pack(2000), 2000, 7600, "PLN")
    assert asked[0] == sandbox.PaymentRequest(reference=purchase.number, amount=7600, currency="PLN",
                                              description="SMS credits, pack of 2,000 credits", method="bank_transfer",
                                              payer_email="buyer4@example.com")
    assert [request.payer_email for request in asked[1:]] == ["", ""]


def test_long_notes_and_reasons_are_cut_to_what_their_fields_hold(db, monkeypatch):
    shop = make_shop()
    waiting = buy(shop, method="bank_transfer")
    assert purchases.purchase_cancel(purchase=waiting, reason="x" * 600)
    assert Purchase.objects.get(pk=waiting.pk).note == "x" * 500

    def decline(self, request):
        raise sandbox.PaymentDeclined("y" * 600)

    monkeypatch.setattr(sandbox.SandboxPaymentProvider, "start", decline)
    assert buy(shop).note == "y" * 500


def test_expired_purchases_are_closed_at_the_moment_of_expiry_with_the_reason(db):
    shop = make_shop()
    waiting = buy(shop, method="bank_transfer")
    later = waiting.expires_at + dt.timedelta(minutes=1)
    assert purchases.purchases_expire(now=later) == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.closed_at, waiting.note) == (
        PurchaseStatus.EXPIRED, later, "No payment arrived in time.")


def test_a_decline_never_turns_a_purchase_confirmed_meanwhile_into_a_failed_one(db, monkeypatch, admin_user):
    """The purchase is written (pending, in the admin) before the provider answers: an operator or a
    webhook may confirm it in that window; a late "declined" must not undo that."""
    def confirmed_then_declined(self, request):
        waiting = next(p for p in Purchase.objects.filter(status=PurchaseStatus.PENDING) if p.number == request.reference)
        purchases.purchase_confirm(purchase=waiting, via="operator", user=admin_user)
        raise sandbox.PaymentDeclined("The card was declined.")

    monkeypatch.setattr(sandbox.SandboxPaymentProvider, "start", confirmed_then_declined)
    shop = make_shop()
    purchase = buy(shop)
    assert (purchase.status, balance(shop)) == (PurchaseStatus.PAID, 1000)


def test_a_reload_of_the_confirm_page_uses_up_no_purchase_number(db):
    """On PostgreSQL a failed INSERT uses up an id of the sequence, which numbers purchases."""
    shop = make_shop()
    key = uuid.uuid4()
    first = buy(shop, method="bank_transfer", idempotency_key=key)
    assert buy(shop, method="bank_transfer", idempotency_key=key).pk == first.pk
    assert buy(shop, method="bank_transfer").pk == first.pk + 1
