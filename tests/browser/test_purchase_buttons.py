"""In a real browser: the merchant cancels a pending purchase, the operator confirms one, with the
buttons on the purchase's page (they answered 403 while their forms sat inside the change form)."""

import pytest
from django.contrib.auth import get_user_model

from credits import purchases
from credits.models import CreditAccount, CreditPack, PurchaseStatus
from tests.factories import make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pending_purchase(shop):
    # the migration's default pack; a transactional test before this one may have flushed it
    pack, _ = CreditPack.objects.get_or_create(credits=1000, defaults={"name": "1,000 credits", "prices": {"USD": 1000}})
    return purchases.purchase_create(shop=shop, method="bank_transfer", pack=pack)


def test_merchant_cancels_and_operator_confirms_with_the_buttons(page, live_server, admin_login):
    shop = make_shop(name="Buttons")
    make_merchant(shop, username="merchant-b", password="pw-browser-3")
    to_cancel, to_confirm = pending_purchase(shop), pending_purchase(shop)

    admin_login("merchant-b", "pw-browser-3")
    page.goto(f"{live_server.url}/admin/credits/purchase/{to_cancel.pk}/change/")
    assert page.locator("input[value='Confirm payment received']").count() == 0
    page.click("input[value='Cancel this purchase']")
    page.wait_for_selector(".messagelist .success")
    to_cancel.refresh_from_db()
    assert to_cancel.status == PurchaseStatus.CANCELLED

    page.context.clear_cookies()
    get_user_model().objects.create_superuser("operator-b", password="pw-browser-4")
    admin_login("operator-b", "pw-browser-4")
    page.goto(f"{live_server.url}/admin/credits/purchase/{to_confirm.pk}/change/")
    page.click("input[value='Confirm payment received']")
    page.wait_for_selector(".messagelist .success")
    to_confirm.refresh_from_db()
    assert to_confirm.status == PurchaseStatus.PAID
    assert CreditAccount.objects.get(shop=shop).balance == 1000
