"""Short links: shortened in the outbox with a code per recipient, counted as sent, and the redirect
(smsnotify/redirect.py) that counts a visitor's click once and reveals nothing."""

import re
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from credits.estimate import sms_estimate
from smsnotify.links import CODE_LENGTH, PLACEHOLDER_CODE, links_shorten
from smsnotify.models import Kind, LinkClick, Message, ShortLink, SmsSettings
from smsnotify.outbox import PreparedMessage, message_schedule, messages_schedule_many
from tests.factories import CustomerFactory
from tests.smsnotify.helpers import IPHONE, visit

pytestmark = pytest.mark.django_db

LONG_URL = "https://www.acme-outdoor-equipment.example.com/collections/winter-sale/tents?utm_source=sms&ref=12345"
SHORT = re.compile(r"https://s\.example\.com/([0-9A-Za-z]{10})")


def _text(url: str) -> str:
    return "Winter sale at Acme Outdoor: 30% off every tent and sleeping bag until Sunday. See " + url


def test_a_short_link_keeps_a_text_in_one_part_where_the_address_would_make_two(shop):
    assert sms_estimate(shop=shop, text=_text(LONG_URL)).segments == 1  # the estimate counts the short link
    SmsSettings.objects.filter(shop=shop).update(shorten_links=False)
    assert sms_estimate(shop=shop, text=_text(LONG_URL)).segments == 2
    SmsSettings.objects.filter(shop=shop).update(shorten_links=True)

    customer = CustomerFactory(shop=shop)
    message = message_schedule(shop=shop, to="+12025550123", body=_text(LONG_URL), kind=Kind.MANUAL,
                               customer=customer, ring=False)
    (code,) = SHORT.findall(message.body)
    assert message.body == _text(f"https://s.example.com/{code}")
    assert message.segments == 1
    link = ShortLink.objects.get()
    assert (link.code, link.url, link.message, link.shop) == (code, LONG_URL, message, shop)
    # the estimate's placeholder is as long as a real code: the page said what the ledger takes
    assert len(sms_estimate(shop=shop, text=_text(LONG_URL)).text) == len(message.body)


def test_each_recipient_gets_a_code_of_their_own(shop):
    rows = [PreparedMessage(to=f"+1202555012{n}", body=f"Hi! {LONG_URL} and https://acme.example/faq.",
                            dedupe_key=f"k:{n}") for n in range(3)]
    written = messages_schedule_many(shop=shop, kind=Kind.DATE_CAMPAIGN, rows=rows)
    links = list(ShortLink.objects.order_by("message_id", "url").values_list("message_id", "url", "code"))
    assert len(links) == 6 and len({code for _m, _u, code in links}) == 6
    assert {message_id for message_id, _u, _c in links} == set(written.values())
    for message in Message.objects.filter(pk__in=written.values()):
        codes = SHORT.findall(message.body)
        assert message.body == f"Hi! https://s.example.com/{codes[0]} and https://s.example.com/{codes[1]}."
        assert dict(message.links.values_list("code", "url")) == {codes[0]: LONG_URL, codes[1]: "https://acme.example/faq"}


def test_texts_without_an_address_write_no_link(shop):
    rows = [PreparedMessage(to=f"+1202555012{n}", body="Sale today, 20% off", dedupe_key=f"k:{n}") for n in range(3)]
    with CaptureQueriesContext(connection) as queries:
        messages_schedule_many(shop=shop, kind=Kind.BULK, rows=rows)
    assert not [q for q in queries.captured_queries if ShortLink._meta.db_table in q["sql"]]
    assert not ShortLink.objects.exists()


def test_a_shop_that_keeps_its_own_addresses_sends_them_as_written(shop):
    SmsSettings.objects.filter(shop=shop).update(shorten_links=False)
    message = message_schedule(shop=shop, to="+12025550123", body=_text(LONG_URL), kind=Kind.MANUAL, ring=False)
    assert message.body == _text(LONG_URL) and message.segments == 2
    assert not ShortLink.objects.exists()


def test_an_address_is_kept_as_written_when_special_characters_are_replaced(shop):
    SmsSettings.objects.filter(shop=shop).update(replace_special_characters=True)
    message = message_schedule(shop=shop, to="+12025550123", body="Żółwie: https://sklep.example/żółw-1!",
                               kind=Kind.MANUAL, ring=False)
    assert re.fullmatch(r"Zolwie: https://s\.example\.com/[0-9A-Za-z]{10}!", message.body)
    assert ShortLink.objects.get().url == "https://sklep.example/żółw-1"


@pytest.mark.parametrize("text,expected", [
    ("Go to https://a.example/x.", "Go to https://s.example.com/xxxxxxxxxx."),
    ("(https://a.example/x)", "(https://s.example.com/xxxxxxxxxx)"),
    ("https://en.example/Alien_(film), now", "https://s.example.com/xxxxxxxxxx, now"),
    ("Already short: https://s.example.com/Ab3x9Kq2Zt", "Already short: https://s.example.com/Ab3x9Kq2Zt"),
    ("No scheme: acme.example/sale, http:// alone", "No scheme: acme.example/sale, http:// alone"),
])
def test_what_counts_as_an_address(text, expected):
    assert PLACEHOLDER_CODE == "x" * CODE_LENGTH
    assert links_shorten(text) == expected


# --- the redirect --------------------------------------------------------------------------------


@pytest.fixture
def link(shop):
    customer = CustomerFactory(shop=shop)
    message = message_schedule(shop=shop, to="+12025550123", body="Sale: https://acme.example/sale?a=1&b=%C5%BC",
                               kind=Kind.MANUAL, customer=customer, ring=False)
    return message.links.get()


def test_a_click_is_redirected_to_the_address_with_its_query_and_counted(link):
    status, headers, body = visit(f"/{link.code}")
    assert status == "302 Found"
    assert headers["Location"] == "https://acme.example/sale?a=1&b=%C5%BC"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Set-Cookie"].startswith(f"sl_seen=1; Path=/{link.code}; ")
    click = LinkClick.objects.get()
    assert (click.link, click.customer) == (link, link.message.customer)
    assert "203.0.113.5" not in click.visitor and len(click.visitor) == 32


def test_a_visitor_is_counted_once(link):
    visit(f"/{link.code}")
    visit(f"/{link.code}")  # no cookie (a browser that refuses them): the same address and browser
    with CaptureQueriesContext(connection) as queries:
        status, headers, _body = visit(f"/{link.code}", cookie="csrftoken=x; sl_seen=1")
    assert status == "302 Found" and "Set-Cookie" not in headers
    assert not queries.captured_queries  # a returning browser costs the database nothing
    assert LinkClick.objects.count() == 1
    visit(f"/{link.code}", address="198.51.100.7")  # someone the text was forwarded to
    assert LinkClick.objects.count() == 2


@pytest.mark.parametrize("agent,method", [
    ("facebookexternalhit/1.1 Facebot Twitterbot/1.0", "GET"),  # iMessage's preview
    ("WhatsApp/2.23.20.0 A", "GET"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "GET"),
    ("TelegramBot (like TwitterBot)", "GET"),
    ("", "GET"),
    (IPHONE, "HEAD"),
])
def test_link_previews_are_redirected_but_not_counted(link, agent, method):
    status, headers, _body = visit(f"/{link.code}", agent=agent, method=method)
    assert status == "302 Found" and headers["Location"].startswith("https://acme.example/sale")
    assert "Set-Cookie" not in headers
    assert not LinkClick.objects.exists()


def test_a_phone_whose_name_ends_in_bot_is_a_person(link):
    visit(f"/{link.code}", agent="Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 Chrome/120.0 Mobile")
    visit(f"/{link.code}", agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    visit(f"/{link.code}", agent="Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)")
    assert LinkClick.objects.count() == 1


def test_an_unknown_code_is_a_bare_404(link):
    other = "A" * CODE_LENGTH if link.code != "A" * CODE_LENGTH else "B" * CODE_LENGTH
    answers = {visit(path)[0:3:2] for path in (f"/{other}", f"/{link.code[:-1]}", f"/{link.code}/x", "/")}
    assert answers == {("404 Not Found", b"Not found")}
    assert not LinkClick.objects.exists()


def test_the_short_domain_is_only_its_host(link):
    assert visit(f"/{link.code}", host="sms.example.com") == ("200 OK", {"Content-Type": "text/plain"}, b"django")


def test_short_links_under_a_path_of_the_app(settings, shop):
    settings.PUBLIC_SHORT_URL = "http://127.0.0.1:8000/s"
    message = message_schedule(shop=shop, to="+12025550123", body="See https://acme.example/a", kind=Kind.MANUAL,
                               ring=False)
    code = message.links.get().code
    assert message.body == f"See http://127.0.0.1:8000/s/{code}"
    status, headers, _body = visit(f"/s/{code}", host="localhost:8000")
    assert (status, headers["Location"]) == ("302 Found", "https://acme.example/a")
    assert "Secure" not in headers["Set-Cookie"] and f"Path=/s/{code};" in headers["Set-Cookie"]
    assert visit("/admin/", host="127.0.0.1:8000")[2] == b"django"
    assert visit("/s/nope")[0] == "404 Not Found"


def test_no_short_url_sends_addresses_as_written(settings, shop):
    settings.PUBLIC_SHORT_URL = ""
    message = message_schedule(shop=shop, to="+12025550123", body="See https://acme.example/a", kind=Kind.MANUAL,
                               ring=False)
    assert message.body == "See https://acme.example/a" and not ShortLink.objects.exists()
    assert visit("/s/AAAAAAAAAA")[2] == b"django"


def test_a_database_outage_is_a_503_or_an_uncounted_redirect(link):
    visit(f"/{link.code}")  # the link is now kept by this process
    with mock.patch("smsnotify.redirect._fetch", side_effect=OperationalError("the server closed the connection")):
        kept = visit(f"/{link.code}", address="198.51.100.7")
        unknown = visit("/" + "Q" * CODE_LENGTH)
    assert kept[0] == "302 Found" and kept[1]["Location"] == "https://acme.example/sale?a=1&b=%C5%BC"
    assert unknown[0] == "503 Service Unavailable"
    assert LinkClick.objects.count() == 1
