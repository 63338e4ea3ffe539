"""Storefront accounts: sign-up by mobile with a code, log-in by a verified mobile or email, a new
number, the password reset, and no answer that tells whether an account exists."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from shop.accounts import checkout_email
from shop.models import ConsentSource, Customer, MarketingConsent
from shop.storefront.account_forms import signup_consent_wording
from smsnotify.models import Kind, Message
from tests.factories import CustomerFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple orbit lantern"
NUMBER = "+12025550147"


_clock = []


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc), tick=False) as traveller:
        _clock.append(traveller)
        yield traveller
        _clock.pop()


def later(seconds: int = 31) -> None:
    """Past the 30 seconds a number waits between two codes."""
    _clock[-1].shift(seconds)


def url(shop, name: str) -> str:
    return reverse(f"storefront:{name}", args=[shop.slug])


def last_code(number: str = NUMBER) -> str:
    text = Message.objects.filter(kind=Kind.VERIFICATION_CODE, recipient=number).order_by("-pk").first()
    return re.search(r"\b\d{6}\b", text.body).group()


def emailed_code() -> str:
    return re.search(r"\b\d{6}\b", mail.outbox[-1].body).group()


def sign_up(client, shop, phone="202-555-0147", country="US", consent=True, **fields):
    data = {"country": country, "phone": phone, "first_name": "Jane", "last_name": "Roe", "email": "",
            "password": PASSWORD, **fields}
    if consent:
        data["consent"] = "on"
    return client.post(url(shop, "signup"), data, REMOTE_ADDR="203.0.113.7")


def signed_up(client, shop, phone="202-555-0147", **fields) -> Customer:
    response = sign_up(client, shop, phone=phone, **fields)
    assert response.status_code == 302, response.content.decode()
    number = Message.objects.filter(kind=Kind.VERIFICATION_CODE).latest("pk").recipient
    response = client.post(url(shop, "verify"), {"code": last_code(number)})
    assert response.status_code == 302 and response["Location"] == url(shop, "account")
    later()
    return Customer.objects.get(shop=shop, verified_mobile=number)


def log_in(client, shop, login, password=PASSWORD, country="US"):
    return client.post(url(shop, "login"), {"country": country, "login": login, "password": password})


def same_page(first, second, *replace) -> bool:
    """Two answers are the same page: status and body, with the CSRF tokens (and the visitor's own
    input, in ``replace``) left out."""
    def plain(response):
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        for old, new in replace:
            text = text.replace(old, new)
        return text

    return first.status_code == second.status_code and plain(first) == plain(second)


# --- sign-up -----------------------------------------------------------------------------------


def test_sign_up_by_mobile_verifies_the_number_and_logs_in(client, shop):
    page = client.get(url(shop, "signup"))
    html = page.content.decode()
    assert page.status_code == 200 and "Send me check code" in html and signup_consent_wording(shop=shop) in html
    assert page.context["form"]["country"].value() == "US"
    response = sign_up(client, shop, phone="(202) 555-0147")
    assert response.status_code == 302 and response["Location"] == url(shop, "verify")
    assert not Customer.objects.exists()  # nothing is written before the number is proved
    assert "+1 202-555-0147" in client.get(url(shop, "verify")).content.decode()

    response = client.post(url(shop, "verify"), {"code": last_code()})
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.shop, str(customer.phone), customer.first_name, customer.last_name) == (
        shop, NUMBER, "Jane", "Roe")
    assert customer.mobile_verified and customer.verified_mobile == NUMBER and customer.mobile_verified_at
    assert customer.password != PASSWORD and check_password(PASSWORD, customer.password)
    assert customer.marketing_consent == MarketingConsent.GRANTED
    assert customer.marketing_consent_source == ConsentSource.SIGNUP
    assert customer.marketing_consent_ip == "203.0.113.7"
    assert customer.marketing_consent_text == signup_consent_wording(shop=shop)
    profile = client.get(response["Location"]).content.decode()
    assert "Your number is verified" in profile and '<span class="verified">Verified</span>' in profile


def test_without_the_box_ticked_no_consent_is_recorded(client, shop):
    customer = signed_up(client, shop, consent=False)
    assert customer.marketing_consent == MarketingConsent.UNKNOWN and customer.marketing_consent_text == ""


def test_a_wrong_code_writes_nothing_and_says_how_many_tries_are_left(client, shop):
    sign_up(client, shop)
    code = last_code()
    response = client.post(url(shop, "verify"), {"code": f"{(int(code) + 1) % 10 ** 6:06d}"})
    assert response.status_code == 200 and "4 more tries" in response.content.decode()
    assert not Customer.objects.exists()


def test_a_weak_password_is_refused_before_any_code_is_sent(client, shop):
    response = sign_up(client, shop, password="12345678")
    assert response.status_code == 200 and response.context["form"].errors["password"]
    assert not Message.objects.exists()


def test_the_customer_the_store_knew_by_this_number_becomes_the_account(client, shop):
    known = CustomerFactory(shop=shop, phone=NUMBER, first_name="Janet", last_name="", email="")
    customer = signed_up(client, shop, email="jane@example.com")
    assert customer.pk == known.pk and Customer.objects.filter(shop=shop).count() == 1
    assert (customer.first_name, customer.last_name, customer.email) == ("Janet", "Roe", "jane@example.com")


def test_sign_up_answers_the_same_whether_or_not_the_number_has_an_account(shop):
    signed_up(Client(), shop, phone="202-555-0147")
    known, unknown = Client(), Client()
    answers = [sign_up(known, shop, phone="202-555-0147"), sign_up(unknown, shop, phone="202-555-0148")]
    assert answers[0].status_code == answers[1].status_code == 302
    assert answers[0]["Location"] == answers[1]["Location"]
    assert same_page(known.get(url(shop, "verify")), unknown.get(url(shop, "verify")),
                     ("202-555-0147", "NUMBER"), ("202-555-0148", "NUMBER"))
    assert Message.objects.filter(recipient=NUMBER).count() == 2  # a code either way
    assert Message.objects.filter(recipient="+12025550148").count() == 1


def test_the_owner_of_a_number_with_an_account_who_signs_up_again_sets_its_password(client, shop):
    first = signed_up(Client(), shop)
    again = signed_up(client, shop, password=NEW_PASSWORD, first_name="Someone")
    assert again.pk == first.pk and Customer.objects.count() == 1
    assert again.first_name == "Jane" and check_password(NEW_PASSWORD, again.password)
    assert "already had an account" in client.get(url(shop, "account")).content.decode()


def test_a_code_limit_answers_429_with_the_time_to_wait(client, shop, clock):
    sign_up(client, shop)
    clock.shift(10)
    response = client.post(url(shop, "verify"), {"resend": "1"})
    assert response.status_code == 429 and "in 20 seconds" in response.content.decode()
    clock.shift(20)
    response = client.post(url(shop, "verify"), {"resend": "1"})
    assert response.status_code == 302
    assert Message.objects.filter(kind=Kind.VERIFICATION_CODE).count() == 2


def test_a_number_of_a_country_the_shop_does_not_allow_gets_no_code(client, shop):
    response = sign_up(client, shop, phone="601 234 567", country="PL")
    assert response.status_code == 200 and "We cannot text codes to numbers in this country" in \
        response.content.decode()
    assert not Message.objects.exists()


def test_the_pages_speak_the_shops_language(client):
    shop = make_shop(country="PL", language="pl", currency="PLN", credits=1000)
    response = client.get(url(shop, "signup"))
    assert response["Content-Language"] == "pl" and '<html lang="pl">' in response.content.decode()
    assert response.context["form"]["country"].value() == "PL"


# --- log-in --------------------------------------------------------------------------------------


def test_log_in_with_the_verified_mobile_in_any_format(shop):
    signed_up(Client(), shop)
    for typed in ("202-555-0147", "(202) 555 0147", "+1 202 555 0147"):
        client = Client()
        response = log_in(client, shop, typed)
        assert response.status_code == 302 and response["Location"] == url(shop, "account"), typed
        assert client.get(url(shop, "account")).status_code == 200


def test_a_failed_log_in_says_the_same_for_an_unknown_number_a_wrong_password_and_an_unverified_email(shop):
    customer = signed_up(Client(), shop, email="jane@example.com")  # an email, not verified
    assert not customer.email_verified
    wrong_password = log_in(Client(), shop, "202-555-0147", password="not the password")
    unknown = log_in(Client(), shop, "202-555-0199")
    unverified = log_in(Client(), shop, "jane@example.com")
    unknown_email = log_in(Client(), shop, "nobody@example.com")
    assert wrong_password.status_code == 200 and "do not match an account" in wrong_password.content.decode()
    assert same_page(wrong_password, unknown, ("0147", "X"), ("0199", "X"))
    assert same_page(unverified, unknown_email, ("jane@example.com", "X"), ("nobody@example.com", "X"))


def test_log_in_tries_are_limited_the_same_for_known_and_unknown_numbers(shop, settings):
    settings.STOREFRONT_LOGINS_PER_ACCOUNT_PER_HOUR = 2
    signed_up(Client(), shop)
    for number in ("202-555-0147", "202-555-0199"):
        client = Client()
        for _ in range(2):
            assert log_in(client, shop, number, password="wrong").status_code == 200
        response = log_in(client, shop, number)
        assert response.status_code == 429 and "try again in 60 minutes" in response.content.decode(), number


def test_a_storefront_session_is_per_shop_and_apart_from_the_admins(shop):
    other_shop = make_shop(credits=1000)
    customer = signed_up(client := Client(), shop)
    assert SESSION_KEY not in client.session  # not a Django user
    assert get_user_model().objects.count() == 0
    assert client.get(url(other_shop, "account"))["Location"] == url(other_shop, "login")
    merchant = make_merchant(shop)
    client.force_login(merchant)
    assert client.get(url(shop, "account")).status_code == 200  # both, side by side
    client.post(url(shop, "logout"))
    assert client.get(url(shop, "account"))["Location"] == url(shop, "login")
    assert client.get(reverse("admin:index")).status_code == 200  # the admin's log-in stays
    assert Customer.objects.get(pk=customer.pk).has_account


# --- a new number ---------------------------------------------------------------------------------


def test_a_new_number_takes_effect_only_once_its_code_is_entered(client, shop, clock):
    customer = signed_up(client, shop)
    response = client.post(url(shop, "change-number"), {"country": "US", "phone": "202-555-0188"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert str(customer.phone) == NUMBER and customer.mobile_verified  # not yet
    assert log_in(Client(), shop, "202-555-0147").status_code == 302
    assert log_in(Client(), shop, "202-555-0188").status_code == 200
    assert "+1 202-555-0188" in client.get(url(shop, "change-number")).content.decode()

    response = client.post(url(shop, "change-number"), {"code": last_code("+12025550188")})
    assert response.status_code == 302 and response["Location"] == url(shop, "account")
    customer.refresh_from_db()
    assert (str(customer.phone), customer.verified_mobile) == ("+12025550188", "+12025550188")
    assert customer.mobile_verified
    assert log_in(Client(), shop, "202-555-0188").status_code == 302
    assert log_in(Client(), shop, "202-555-0147").status_code == 200
    assert "Verified" in client.get(url(shop, "account")).content.decode()


def test_a_number_another_account_proved_is_refused_after_the_code(client, shop):
    signed_up(Client(), shop, phone="202-555-0188")
    customer = signed_up(client, shop)
    client.post(url(shop, "change-number"), {"country": "US", "phone": "202-555-0188"})
    response = client.post(url(shop, "change-number"), {"code": last_code("+12025550188")})
    assert "belongs to another account" in response.content.decode()
    customer.refresh_from_db()
    assert str(customer.phone) == NUMBER


def test_a_wrong_code_leaves_the_number_as_it_was(client, shop):
    customer = signed_up(client, shop)
    client.post(url(shop, "change-number"), {"country": "US", "phone": "202-555-0188"})
    code = last_code("+12025550188")
    client.post(url(shop, "change-number"), {"code": f"{(int(code) + 1) % 10 ** 6:06d}"})
    customer.refresh_from_db()
    assert str(customer.phone) == NUMBER


def test_a_number_the_merchant_changed_is_not_verified_any_more(shop):
    customer = signed_up(Client(), shop)
    customer.phone = "+12025550177"
    customer.save()
    assert not Customer.objects.get(pk=customer.pk).mobile_verified
    assert log_in(Client(), shop, "202-555-0147").status_code == 200  # the old number is no log-in
    signed_up(Client(), shop)  # whoever proves it now may use it
    assert Customer.objects.filter(verified_mobile=NUMBER).count() == 1


# --- the email -----------------------------------------------------------------------------------


def test_a_verified_email_is_a_log_in_too(client, shop, on_commit):
    signed_up(client, shop)
    client.post(url(shop, "account"), {"first_name": "Jane", "last_name": "Roe", "email": "Jane@Example.com"})
    assert "Not yet verified" in client.get(url(shop, "account")).content.decode()
    with on_commit():  # the code is emailed by a task, after the commit
        response = client.post(url(shop, "verify-email"), {"send": "1"})
    assert response.status_code == 302 and mail.outbox[-1].to == ["jane@example.com"]
    response = client.post(url(shop, "verify-email"), {"code": emailed_code()})
    assert response.status_code == 302
    assert Customer.objects.get().email_verified
    assert log_in(Client(), shop, "jane@example.com").status_code == 302


# --- the password reset ---------------------------------------------------------------------------


def reset(client, shop, login, country="US"):
    return client.post(url(shop, "reset"), {"country": country, "login": login})


def test_a_password_reset_by_text(client, shop):
    signed_up(Client(), shop)
    response = reset(client, shop, "202-555-0147")
    assert response.status_code == 302 and response["Location"] == url(shop, "reset-confirm")
    response = client.post(url(shop, "reset-confirm"), {"code": last_code(), "password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == url(shop, "account")
    assert log_in(Client(), shop, "202-555-0147", password=NEW_PASSWORD).status_code == 302
    assert log_in(Client(), shop, "202-555-0147").status_code == 200


def test_a_reset_ends_the_accounts_other_sessions(shop):
    signed_up(elsewhere := Client(), shop)
    assert elsewhere.get(url(shop, "account")).status_code == 200
    client = Client()
    reset(client, shop, "202-555-0147")
    client.post(url(shop, "reset-confirm"), {"code": last_code(), "password": NEW_PASSWORD})
    assert elsewhere.get(url(shop, "account"))["Location"] == url(shop, "login")
    assert client.get(url(shop, "account")).status_code == 200


def test_a_reset_answers_the_same_for_a_number_with_and_without_an_account(shop):
    signed_up(Client(), shop)
    known, unknown = Client(), Client()
    answers = [reset(known, shop, "202-555-0147"), reset(unknown, shop, "202-555-0148")]
    assert answers[0].status_code == answers[1].status_code == 302
    assert answers[0]["Location"] == answers[1]["Location"]
    assert same_page(known.get(url(shop, "reset-confirm")), unknown.get(url(shop, "reset-confirm")),
                     ("202-555-0147", "N"), ("202-555-0148", "N"))
    # Only the number's owner, with its code, learns there is no account.
    response = unknown.post(url(shop, "reset-confirm"), {"code": last_code("+12025550148"), "password": NEW_PASSWORD})
    assert "There is no account with this number" in response.content.decode()


def test_a_reset_by_email_reaches_only_an_accounts_verified_address_and_answers_the_same(shop, on_commit):
    customer = signed_up(Client(), shop, email="jane@example.com")
    Customer.objects.filter(pk=customer.pk).update(verified_email="jane@example.com")
    known, unknown = Client(), Client()
    with on_commit():  # the code is emailed by a task, after the commit
        answers = [reset(known, shop, "jane@example.com"), reset(unknown, shop, "nobody@example.com")]
    assert answers[0].status_code == answers[1].status_code == 302
    assert answers[0]["Location"] == answers[1]["Location"]
    assert same_page(known.get(url(shop, "reset-confirm")), unknown.get(url(shop, "reset-confirm")),
                     ("jane@example.com", "E"), ("nobody@example.com", "E"))
    assert [message.to for message in mail.outbox] == [["jane@example.com"]]
    response = known.post(url(shop, "reset-confirm"), {"code": emailed_code(), "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert log_in(Client(), shop, "jane@example.com", password=NEW_PASSWORD).status_code == 302


def test_a_reset_code_does_not_open_sign_up_and_the_reverse(client, shop):
    signed_up(Client(), shop)
    reset(client, shop, "202-555-0147")
    code = last_code()
    response = Client().post(url(shop, "verify"), {"code": code})  # no sign-up in this session
    assert response.status_code == 302 and response["Location"] == url(shop, "signup")


# --- checkout -------------------------------------------------------------------------------------


def test_a_customer_who_signed_up_without_an_email_gives_one_at_checkout(client, shop):
    customer = signed_up(client, shop)
    assert customer.email == ""
    with pytest.raises(ValidationError) as caught:
        checkout_email(customer=customer)
    assert "email" in caught.value.message_dict
    assert checkout_email(customer=customer, email="Jane@Example.com") == "jane@example.com"
    assert Customer.objects.get(pk=customer.pk).email == "jane@example.com"
    assert checkout_email(customer=customer) == "jane@example.com"


def test_an_account_whose_number_the_merchant_changed_is_not_doubled_by_a_sign_up(client, shop):
    account = signed_up(client, shop)
    # The merchant changed the number and back: the account holds it again, but not as proved.
    Customer.objects.filter(pk=account.pk).update(verified_mobile="")
    signed_up(Client(REMOTE_ADDR="203.0.113.8"), shop)
    assert list(Customer.objects.filter(shop=shop, phone=NUMBER).values_list("pk", flat=True)) == [account.pk]


def test_a_sign_up_with_an_address_longer_than_a_mailbox_allows_is_a_form_error(client, shop):
    response = sign_up(client, shop, email="a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com")
    assert response.status_code == 200 and response.context["form"].errors["email"]
    assert not Message.objects.exists()  # refused before any code was sent


def test_a_log_in_runs_the_password_hasher_once_whether_or_not_the_account_exists(shop):
    """"About the same time" without a timed test: the costly step, one run of the hasher, is
    made for a known number with a wrong password and for an unknown one alike."""
    from unittest import mock

    from django.contrib.auth.hashers import get_hasher

    signed_up(Client(), shop)
    hasher = get_hasher("default")
    runs = []
    with mock.patch.object(type(hasher), "encode", autospec=True, side_effect=lambda *a, **k: runs.append("encode")
                           or "x$y"), \
            mock.patch.object(type(hasher), "verify", autospec=True, side_effect=lambda *a, **k: runs.append("verify")
                              or False):
        log_in(Client(), shop, "202-555-0147", password="not the password")
        known = list(runs)
        runs.clear()
        log_in(Client(), shop, "202-555-0199", password="not the password")
        unknown = list(runs)
    assert len(known) == len(unknown) == 1, (known, unknown)
