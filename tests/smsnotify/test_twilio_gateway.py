"""TwilioGateway against the real twilio SDK and a local fake of the Twilio API.

Nothing here leaves 127.0.0.1: the fake (tests/fakes/twilio_server.py) is reached by
pointing the SDK's "api" domain at it, which is also what TWILIO_API_BASE_URL does.
"""

import base64
import datetime as dt
import http.client
import os
import socket
import ssl
import time
import types
from email.utils import parsedate_to_datetime as parse_rfc2822

import pytest
import requests
import urllib3
from django.core.exceptions import ImproperlyConfigured
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from smsnotify.gateways import twilio as twilio_gateway
from smsnotify.gateways.base import (
    AmbiguousGatewayError,
    DeliveryReport,
    OutboundSms,
    PermanentGatewayError,
    RecipientOptedOut,
    SendResult,
    SentRef,
    TransientGatewayError,
)
from smsnotify.gateways.twilio import (
    TwilioGateway,
    classify_send_error,
    map_status,
    parse_status_callback,
    public_url,
    signature_is_valid,
)
from tests.fakes.twilio_server import Delay, Drop, Reply, rfc2822, sign

TO = "+15558675310"
FROM = "+15005550006"
SERVICE = "MG" + "1" * 32
CALLBACK = "https://sms.example.com/twilio/status/"


@pytest.fixture
def dj_settings(request):
    """pytest-django's ``settings`` (restored after the test). Without pytest-django
    (``-p no:django``), bare settings are configured and a minimal stand-in restores them."""
    from django.conf import settings as django_settings

    if not django_settings.configured:
        django_settings.configure()
    try:
        return request.getfixturevalue("settings")
    except pytest.FixtureLookupError:
        overrides = _SettingsOverrides(django_settings)
        request.addfinalizer(overrides.restore)
        return overrides


class _SettingsOverrides:
    _missing = object()

    def __init__(self, target):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_saved", {})

    def __setattr__(self, name, value):
        self._saved.setdefault(name, getattr(self._target, name, self._missing))
        setattr(self._target, name, value)

    def __delattr__(self, name):
        self._saved.setdefault(name, getattr(self._target, name, self._missing))
        delattr(self._target, name)

    def restore(self):
        for name, value in self._saved.items():
            if value is self._missing:
                delattr(self._target, name)
            else:
                setattr(self._target, name, value)


def make_gateway(server, **overrides) -> TwilioGateway:
    options = {
        "account_sid": server.account_sid,
        "auth_token": server.auth_token,
        "messaging_service_sid": "",
        "from_number": FROM,
        "api_base_url": server.base_url,
        "timeout": 5,
    }
    options.update(overrides)
    return TwilioGateway(**options)


def make_sms(**overrides) -> OutboundSms:
    fields = {"reference": "msg-1", "to": TO, "body": "Your order #42 has shipped."}
    fields.update(overrides)
    return OutboundSms(**fields)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Sending -----------------------------------------------------------------------------------


def test_send_posts_exactly_the_message_fields(twilio_server):
    result = make_gateway(twilio_server).send(make_sms(status_callback=CALLBACK))

    [post] = twilio_server.posts
    assert post.path == f"/2010-04-01/Accounts/{twilio_server.account_sid}/Messages.json"
    assert post.form_lists == {
        "To": [TO],
        "From": [FROM],
        "Body": ["Your order #42 has shipped."],
        "StatusCallback": [CALLBACK],
    }
    credentials = f"{twilio_server.account_sid}:{twilio_server.auth_token}".encode()
    assert post.headers["Authorization"] == "Basic " + base64.b64encode(credentials).decode()
    [sid] = twilio_server.messages
    assert result == SendResult(provider_id=sid, status="sent")
    assert sid.startswith("SM") and len(sid) == 34


def test_send_omits_status_callback_when_there_is_none(twilio_server):
    make_gateway(twilio_server).send(make_sms())

    assert "StatusCallback" not in twilio_server.posts[0].form
    assert "ValidityPeriod" not in twilio_server.posts[0].form


def test_send_passes_the_validity_period(twilio_server):
    make_gateway(twilio_server).send(make_sms(validity_seconds=600))

    assert twilio_server.posts[0].form["ValidityPeriod"] == "600"


@pytest.mark.parametrize(
    ("sender", "service", "expected"),
    [
        pytest.param("ShopName", SERVICE, {"From": "ShopName", "MessagingServiceSid": SERVICE}, id="sender+service"),
        pytest.param("ShopName", "", {"From": "ShopName"}, id="sender-only"),
        pytest.param("", SERVICE, {"MessagingServiceSid": SERVICE}, id="service-beats-from-number"),
        pytest.param("", "", {"From": FROM}, id="from-number"),
    ],
)
def test_sender_precedence(twilio_server, sender, service, expected):
    make_gateway(twilio_server, messaging_service_sid=service).send(make_sms(sender=sender))

    form = twilio_server.posts[0].form
    assert {key: form[key] for key in ("From", "MessagingServiceSid") if key in form} == expected


def test_batch_reuses_one_connection(twilio_server):
    with make_gateway(twilio_server) as gateway:
        results = [gateway.send(make_sms(body=f"Message {n}")) for n in range(3)]

    assert len({result.provider_id for result in results}) == 3
    assert len({post.client for post in twilio_server.posts}) == 1


def test_api_base_url_redirects_create_list_paging_and_fetch(twilio_server):
    gateway = make_gateway(twilio_server)
    sids = [gateway.send(make_sms(body=f"Message {n}")).provider_id for n in range(5)]
    gateway.open()
    try:
        # Private access on purpose: this checks the SDK plumbing the gateway relies on.
        listed = gateway._client.messages.list(to=TO, page_size=2)
        fetched = gateway._client.messages(sids[0]).fetch()
    finally:
        gateway.close()

    assert sorted(message.sid for message in listed) == sorted(sids)
    pages = [r for r in twilio_server.requests if r.method == "GET" and r.path.endswith("/Messages.json")]
    assert len(pages) == 3  # 2 + 2 + 1, the later ones through next_page_uri
    assert fetched.sid == sids[0] and fetched.to == TO


# --- Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [21211, 21212, 21408, 21610, 21612, 21614, 21617, 21606])
def test_refusals_about_the_message_are_permanent(twilio_server, code):
    twilio_server.script(Reply(status=400, code=code, message=f"Refused with {code}"))

    with pytest.raises(PermanentGatewayError) as caught:
        make_gateway(twilio_server).send(make_sms())

    assert caught.value.code == str(code)
    assert f"Refused with {code}" in caught.value.text
    assert isinstance(caught.value, RecipientOptedOut) == (code == 21610)  # only STOP teaches the opt-out list
    assert twilio_server.messages == {}


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        pytest.param(Reply(status=429), "20429", id="429"),
        pytest.param(Reply(status=429, code=21212), "21212", id="429-beats-a-permanent-code"),
        pytest.param(Reply(status=400, code=21611), "21611", id="21611-queue-full"),
        pytest.param(Reply(status=400, code=30001), "30001", id="30001-queue-overflow"),
    ],
)
def test_load_refusals_are_transient(twilio_server, reply, code):
    twilio_server.script(reply)

    with pytest.raises(TransientGatewayError) as caught:
        make_gateway(twilio_server).send(make_sms())

    assert caught.value.code == code
    assert len(twilio_server.posts) == 1


def test_rejected_credentials_are_transient_not_permanent(twilio_server):
    with pytest.raises(TransientGatewayError) as caught:
        make_gateway(twilio_server, auth_token="rotated-token").send(make_sms())

    assert caught.value.code == "20003"
    assert twilio_server.messages == {}


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(status=500), id="500"),
        pytest.param(Reply(status=503), id="503"),
        pytest.param(Reply(status=500, create=True), id="500-after-creating"),
        pytest.param(Reply(status=502, code=21611), id="5xx-wins-over-a-transient-code"),
    ],
)
def test_server_errors_are_ambiguous(twilio_server, reply):
    twilio_server.script(reply)

    with pytest.raises(AmbiguousGatewayError):
        make_gateway(twilio_server).send(make_sms())

    assert len(twilio_server.posts) == 1


def test_success_without_a_readable_body_is_ambiguous(twilio_server):
    twilio_server.script(Reply(status=201, body=b"<html>gateway</html>"))

    with pytest.raises(AmbiguousGatewayError) as caught:
        make_gateway(twilio_server).send(make_sms())

    assert caught.value.code == "response"
    assert len(twilio_server.messages) == 1


def test_read_timeout_is_ambiguous_sent_once_and_found_by_reconciliation(twilio_server):
    gateway = make_gateway(twilio_server, timeout=0.5)
    since = dt.datetime.now(dt.timezone.utc)
    twilio_server.script(Delay(1.5))

    started = time.monotonic()
    with pytest.raises(AmbiguousGatewayError) as caught:
        gateway.send(make_sms())
    elapsed = time.monotonic() - started

    assert caught.value.code == "timeout"
    assert elapsed < 1.4  # the client gave up; it did not wait for (or retry into) the answer
    assert len(twilio_server.posts) == 1
    assert twilio_server.wait_idle(timeout=5)  # the delayed handler has answered by now
    assert len(twilio_server.posts) == 1  # and nothing was POSTed again meanwhile
    [sid] = twilio_server.messages

    # The message is still queued at "Twilio" (no date_sent): the scan must find it.
    assert gateway.find_sent(make_sms(), since=since) == SendResult(provider_id=sid, status="sent")
    assert gateway.find_sent(make_sms(body="Something never sent"), since=since) is None
    assert gateway.find_sent(make_sms(to="+15558675399"), since=since) is None


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_dropped_connection_is_ambiguous(twilio_server, reset):
    twilio_server.script(Drop(reset=reset))

    with pytest.raises(AmbiguousGatewayError) as caught:
        make_gateway(twilio_server).send(make_sms())

    assert caught.value.code == "connection"
    assert len(twilio_server.posts) == 1
    assert len(twilio_server.messages) == 1


def test_refused_connection_is_transient():
    gateway = TwilioGateway(
        account_sid="AC" + "0" * 32, auth_token="token", messaging_service_sid="", from_number=FROM,
        api_base_url=f"http://127.0.0.1:{closed_port()}", timeout=2,
    )

    with pytest.raises(TransientGatewayError) as caught:
        gateway.send(make_sms())

    assert caught.value.code == "connect"


def _connection_error(reason):
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/Messages.json", reason))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(
            _connection_error(NameResolutionError("api.twilio.com", None, socket.gaierror(-2, "Name unknown"))),
            TransientGatewayError, id="dns-failure",
        ),
        pytest.param(requests.exceptions.ConnectTimeout("connect timed out"), TransientGatewayError, id="connect-timeout"),
        pytest.param(requests.exceptions.InvalidURL("bad url"), TransientGatewayError, id="never-prepared"),
        pytest.param(
            requests.exceptions.ReadTimeout(ReadTimeoutError(None, "/Messages.json", "read timed out")),
            AmbiguousGatewayError, id="read-timeout",
        ),
        pytest.param(
            requests.exceptions.ConnectionError(
                ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))
            ),
            AmbiguousGatewayError, id="dropped-after-sending",
        ),
        pytest.param(requests.exceptions.ChunkedEncodingError("truncated"), AmbiguousGatewayError, id="truncated"),
        pytest.param(RuntimeError("surprise"), AmbiguousGatewayError, id="unknown"),
    ],
)
def test_transport_error_classification(exc, expected):
    assert type(classify_send_error(exc)) is expected


# --- Reconciliation ----------------------------------------------------------------------------


def test_find_sent_finds_a_sent_message_through_the_date_filter(twilio_server):
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.set_status(sid, "delivered")

    assert gateway.find_sent(make_sms(), since=since) == SendResult(provider_id=sid, status="delivered")
    first_list = next(r for r in twilio_server.requests if r.method == "GET")
    expected_day = (since - twilio_gateway.CLOCK_SKEW - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert first_list.query["To"] == [TO]
    assert first_list.query["DateSent>"] == [expected_day]


def test_find_sent_ignores_an_identical_older_message(twilio_server):
    gateway = make_gateway(twilio_server)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.messages[sid]["date_created"] = rfc2822(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))

    assert gateway.find_sent(make_sms(), since=dt.datetime.now(dt.timezone.utc)) is None


def test_find_sent_requires_the_same_sender(twilio_server):
    since = dt.datetime.now(dt.timezone.utc)
    make_gateway(twilio_server).send(make_sms(sender="OtherShop"))

    assert make_gateway(twilio_server).find_sent(make_sms(sender="MyShop"), since=since) is None
    assert make_gateway(twilio_server).find_sent(make_sms(sender="OtherShop"), since=since) is not None


def test_find_sent_says_it_cannot_tell_when_the_recent_history_is_too_long(twilio_server, monkeypatch):
    monkeypatch.setattr(twilio_gateway, "FIND_SCAN_LIMIT", 3)
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    for n in range(4):
        gateway.send(make_sms(body=f"Other message {n}"))

    with pytest.raises(TransientGatewayError) as caught:
        gateway.find_sent(make_sms(), since=since)

    assert caught.value.code == "inconclusive"


def test_find_sent_failures_are_transient():
    gateway = TwilioGateway(
        account_sid="AC" + "0" * 32, auth_token="token", messaging_service_sid="", from_number=FROM,
        api_base_url=f"http://127.0.0.1:{closed_port()}", timeout=2,
    )

    with pytest.raises(TransientGatewayError):
        gateway.find_sent(make_sms(), since=dt.datetime.now(dt.timezone.utc))


def test_find_sent_refused_lookup_is_transient(twilio_server):
    with pytest.raises(TransientGatewayError):
        make_gateway(twilio_server, auth_token="wrong").find_sent(make_sms(), since=dt.datetime.now(dt.timezone.utc))


# --- Delivery reports --------------------------------------------------------------------------


def test_fetch_reports_maps_each_message_status(twilio_server):
    gateway = make_gateway(twilio_server)
    sids = [gateway.send(make_sms(body=f"Message {n}")).provider_id for n in range(5)]
    twilio_server.set_status(sids[0], "delivered")
    twilio_server.set_status(sids[1], "undelivered", error_code=30003)
    twilio_server.set_status(sids[2], "failed", error_code=30008)
    twilio_server.set_status(sids[3], "canceled")
    # sids[4] stays queued
    refs = [SentRef(provider_id=sid, to=TO) for sid in [*sids, "SM" + "f" * 32]]

    reports = gateway.fetch_reports(refs)

    assert [(r.provider_id, r.status, r.error_code, r.error_text) for r in reports] == [
        (sids[0], "delivered", "", ""),
        (sids[1], "undelivered", "30003", "Unreachable destination handset"),
        (sids[2], "failed", "30008", "Unknown error"),
        (sids[3], "failed", "", ""),
        (sids[4], "sent", "", ""),
        # the unknown SID (404) is skipped
    ]
    assert reports[0].extra["twilio_status"] == "delivered"


@pytest.mark.parametrize(
    ("twilio_status", "ours"),
    [
        ("queued", "sent"), ("accepted", "sent"), ("scheduled", "sent"), ("sending", "sent"), ("sent", "sent"),
        ("delivered", "delivered"), ("read", "delivered"), ("undelivered", "undelivered"), ("failed", "failed"),
        ("canceled", "failed"), ("receiving", ""), ("received", ""), ("something-new", ""), ("", ""), (None, ""),
    ],
)
def test_map_status(twilio_status, ours):
    assert map_status(twilio_status) == ours


def test_parse_status_callback(twilio_server):
    sid = make_gateway(twilio_server).send(make_sms()).provider_id
    twilio_server.set_status(sid, "undelivered", error_code=30005)

    report = parse_status_callback(twilio_server.callback_params(sid))

    assert report == DeliveryReport(
        provider_id=sid,
        status="undelivered",
        error_code="30005",
        billed=False,  # 30005: the number does not exist; the merchant gets the credits back
        extra={
            "twilio_status": "undelivered",
            "AccountSid": twilio_server.account_sid,
            "To": TO,
            "From": FROM,
            "SmsSid": sid,
            "ApiVersion": "2010-04-01",
        },
    )


def test_parse_status_callback_needs_a_message_sid():
    with pytest.raises(ValueError):
        parse_status_callback({"MessageStatus": "delivered"})


# --- Webhook signatures ------------------------------------------------------------------------


def test_signature_checked_against_the_public_https_url(dj_settings):
    dj_settings.PUBLIC_BASE_URL = "https://sms.example.com"
    token = "the-auth-token"
    path = "/twilio/status/?shop=7"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    url = public_url(path)

    assert url == "https://sms.example.com/twilio/status/?shop=7"
    assert signature_is_valid(auth_token=token, url=url, params=params, signature=sign(url, params, token))
    # Forged with another token, or replayed with other parameters:
    assert not signature_is_valid(auth_token=token, url=url, params=params, signature=sign(url, params, "guess"))
    tampered = {**params, "MessageStatus": "failed"}
    assert not signature_is_valid(auth_token=token, url=url, params=tampered, signature=sign(url, params, token))
    # What build_absolute_uri() says behind a TLS-terminating proxy is not what Twilio signed:
    http_url = "http://sms.example.com/twilio/status/?shop=7"
    assert not signature_is_valid(auth_token=token, url=url, params=params, signature=sign(http_url, params, token))
    assert not signature_is_valid(auth_token=token, url=url, params=params, signature="")
    # An empty token must never validate, even a signature made with the empty key.
    assert not signature_is_valid(auth_token="", url=url, params=params, signature=sign(url, params, ""))


def test_public_url_falls_back_to_none_without_a_public_base_url(dj_settings):
    dj_settings.PUBLIC_BASE_URL = ""

    assert public_url("/twilio/status/") is None


def test_public_url_refuses_a_base_url_with_a_path(dj_settings):
    dj_settings.PUBLIC_BASE_URL = "https://example.com/sms"

    with pytest.raises(ImproperlyConfigured):
        public_url("/twilio/status/")


def test_public_url_without_the_setting_at_all_falls_back_to_none(dj_settings):
    dj_settings.PUBLIC_BASE_URL = "https://sms.example.com"
    del dj_settings.PUBLIC_BASE_URL

    assert public_url("/twilio/status/") is None


@pytest.mark.parametrize("base", ["ftp://sms.example.com", "sms.example.com", "https://"])
def test_public_url_refuses_a_base_url_that_is_not_an_http_origin(dj_settings, base):
    dj_settings.PUBLIC_BASE_URL = base

    with pytest.raises(ImproperlyConfigured, match="PUBLIC_BASE_URL"):
        public_url("/twilio/status/")


def test_public_url_accepts_a_plain_http_origin_and_a_path_without_its_slash(dj_settings):
    # A developer's tunnel or a test server may speak plain http; its signatures are checked the same.
    dj_settings.PUBLIC_BASE_URL = " http://localhost:8000/ "

    assert public_url("twilio/status/?shop=7") == "http://localhost:8000/twilio/status/?shop=7"


# --- Configuration -----------------------------------------------------------------------------


def _configure(dj_settings, **values):
    defaults = {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_MESSAGING_SERVICE_SID": "",
        "TWILIO_FROM_NUMBER": FROM,
        "TWILIO_API_BASE_URL": "",
        "TWILIO_TIMEOUT": 10,
    }
    for name, value in {**defaults, **values}.items():
        setattr(dj_settings, name, value)


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ({"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": ""}, "TWILIO_FROM_NUMBER"),
    ],
)
def test_missing_settings_are_improperly_configured(dj_settings, missing, named):
    _configure(dj_settings, **missing)

    with pytest.raises(ImproperlyConfigured, match=named):
        TwilioGateway()


def test_settings_are_the_defaults(dj_settings, twilio_server):
    _configure(
        dj_settings,
        TWILIO_ACCOUNT_SID=twilio_server.account_sid,
        TWILIO_AUTH_TOKEN=twilio_server.auth_token,
        TWILIO_MESSAGING_SERVICE_SID=SERVICE,
        TWILIO_API_BASE_URL=twilio_server.base_url,
        TWILIO_TIMEOUT=3,
    )

    gateway = TwilioGateway()
    gateway.send(make_sms())

    assert gateway.timeout == 3.0
    assert twilio_server.posts[0].form["MessagingServiceSid"] == SERVICE


def test_many_calls_in_flight_each_get_their_own_answer(twilio_server):
    """send_many keeps calls in flight on several threads; no message may get another's SID
    (the SDK's HTTP client keeps the last response on itself: one client per thread)."""
    gateway = make_gateway(twilio_server)
    gateway.max_in_flight = 16
    messages = [make_sms(reference=f"msg-{n}", to=f"+1202555{n:04d}", body=f"text {n}") for n in range(120)]
    with gateway:
        answers = gateway.send_many(messages)
    assert len({answer.provider_id for answer in answers}) == len(messages)
    for sms, answer in zip(messages, answers, strict=True):
        stored = twilio_server.messages[answer.provider_id]
        assert (stored["to"], stored["body"]) == (sms.to, sms.body)


# --- Reconciliation with a Messaging Service: a message Twilio did create must be found, or it
# --- would be sent (and paid) twice ------------------------------------------------------------


def service_gateway(server, **overrides):
    # A from_number that differs from the number the service picks: with a service and no
    # pinned sender, the sender is unknown and must not be compared.
    return make_gateway(server, messaging_service_sid=SERVICE, from_number="+15550001111", **overrides)


def test_find_sent_with_a_messaging_service_finds_a_message_the_service_sent(twilio_server):
    gateway = service_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.set_status(sid, "delivered")  # the service picked its own number

    assert gateway.find_sent(make_sms(), since=since) == SendResult(provider_id=sid, status="delivered")


def test_find_sent_with_a_messaging_service_finds_a_message_still_in_its_queue(twilio_server):
    gateway = service_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id  # accepted: no sender, no date_sent yet

    assert gateway.find_sent(make_sms(), since=since) == SendResult(provider_id=sid, status="sent")


def test_find_sent_ignores_the_same_text_sent_by_another_messaging_service(twilio_server):
    since = dt.datetime.now(dt.timezone.utc)
    sid = make_gateway(twilio_server, messaging_service_sid="MG" + "2" * 32).send(make_sms()).provider_id
    twilio_server.set_status(sid, "delivered")

    assert service_gateway(twilio_server).find_sent(make_sms(), since=since) is None


def test_find_sent_with_a_messaging_service_still_checks_a_pinned_sender(twilio_server):
    since = dt.datetime.now(dt.timezone.utc)
    gateway = service_gateway(twilio_server)
    gateway.send(make_sms(sender="OtherShop"))

    assert gateway.find_sent(make_sms(sender="MyShop"), since=since) is None
    assert gateway.find_sent(make_sms(sender="othershop"), since=since) is not None  # sender ids ignore case


def test_find_sent_without_a_service_compares_the_gateways_own_number(twilio_server):
    since = dt.datetime.now(dt.timezone.utc)
    sid = make_gateway(twilio_server).send(make_sms()).provider_id
    twilio_server.set_status(sid, "sent")

    assert make_gateway(twilio_server, from_number="+15550001111").find_sent(make_sms(), since=since) is None
    assert make_gateway(twilio_server).find_sent(make_sms(), since=since) is not None


def test_find_sent_ignores_an_inbound_message_with_the_same_text(twilio_server):
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.messages[sid]["direction"] = "inbound"

    assert gateway.find_sent(make_sms(), since=since) is None


# --- What a failed lookup and a status callback tell the operator ----------------------------------


def test_a_refused_poll_keeps_twilios_words_and_code(twilio_server):
    sid = make_gateway(twilio_server).send(make_sms()).provider_id
    with pytest.raises(TransientGatewayError) as caught:
        make_gateway(twilio_server, auth_token="wrong").fetch_reports([SentRef(provider_id=sid, to=TO)])
    assert caught.value.code == "20003"
    assert "Authentication Error" in caught.value.text


@pytest.mark.parametrize(("exc", "text", "code"), [
    (twilio_gateway.TwilioRestException(503, "/Messages.json", msg="Service unavailable"), "Service unavailable", "503"),
    (twilio_gateway.TwilioRestException(404, "/Messages.json", msg="", code=20404), "", "20404"),
    (twilio_gateway.TwilioRestException(None, "/Messages.json", msg="No status"), "No status", ""),
    (twilio_gateway.TwilioServiceException("about:blank", "Too Many Requests", 429, 20429, detail="Slow down"),
     "Slow down", "20429"),
    (twilio_gateway.TwilioServiceException("about:blank", "Too Many Requests", 429, 20429), "Too Many Requests", "20429"),
])
def test_a_failed_lookup_says_what_twilio_said(exc, text, code):
    error = twilio_gateway._lookup_error(exc)
    assert isinstance(error, TransientGatewayError)
    assert (error.text, error.code) == (text, code)


def test_a_lookup_that_failed_before_twilio_answered_says_so():
    error = twilio_gateway._lookup_error(requests.exceptions.ConnectionError("connection refused"))
    assert isinstance(error, TransientGatewayError)
    assert (error.text, error.code) == ("Twilio lookup failed: connection refused", "lookup")


def test_a_status_callback_names_its_message_by_message_sid_or_the_older_sms_sid():
    sid, other = "SM" + "a" * 32, "SM" + "b" * 32
    assert parse_status_callback({"MessageSid": sid, "MessageStatus": "delivered"}).provider_id == sid
    assert parse_status_callback({"SmsSid": sid, "SmsStatus": "delivered"}).provider_id == sid
    assert parse_status_callback({"MessageSid": sid, "SmsSid": other, "MessageStatus": "sent"}).provider_id == sid


def test_a_status_callback_reads_the_older_sms_status_when_there_is_no_message_status():
    sid = "SM" + "a" * 32
    assert parse_status_callback({"MessageSid": sid, "SmsStatus": "delivered"}).status == "delivered"
    assert parse_status_callback({"MessageSid": sid, "MessageStatus": "failed", "SmsStatus": "sent"}).status == "failed"
    report = parse_status_callback({"MessageSid": sid})
    assert (report.status, report.extra["twilio_status"]) == ("", "")


def test_a_status_callback_keeps_twilios_error_words_and_the_fields_that_help_diagnose_it():
    sid, service = "SM" + "a" * 32, "MG" + "c" * 32
    report = parse_status_callback({
        "MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30007",
        "ErrorMessage": "Message filtered by the carrier", "MessagingServiceSid": service,
        "RawDlrDoneDate": "2611290130", "ApiVersion": "2010-04-01", "AccountSid": "", "Body": "Hello",
    })
    assert (report.error_code, report.error_text, report.billed) == ("30007", "Message filtered by the carrier", True)
    assert report.extra == {"twilio_status": "undelivered", "MessagingServiceSid": service,
                            "RawDlrDoneDate": "2611290130", "ApiVersion": "2010-04-01"}


def test_a_status_callback_without_an_error_has_no_error_code():
    report = parse_status_callback({"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "ErrorCode": ""})
    assert (report.error_code, report.error_text, report.billed) == ("", "", True)


def test_an_error_that_wraps_itself_in_a_loop_is_still_classified():
    # A wrapper chain can loop (a cause that points back at its wrapper): classification
    # must end, and what it found on the way still counts.
    dropped = ProtocolError("Connection aborted.")
    wrapper = requests.exceptions.ConnectionError(dropped)
    dropped.__cause__ = wrapper
    assert type(classify_send_error(wrapper)) is AmbiguousGatewayError
    refused = NewConnectionError(None, "Connection refused")
    looping = requests.exceptions.ConnectionError(refused)
    refused.__cause__ = looping
    assert type(classify_send_error(looping)) is TransientGatewayError


def test_a_failure_met_again_before_a_refused_connect_does_not_end_the_search():
    # The search meets the wrapper a second time (through the noise's cause) before it
    # reaches the refused connection: an error seen before is skipped, not the end.
    other = OSError("noise")
    exc = requests.exceptions.ConnectionError(NewConnectionError(None, "Connection refused"), other)
    other.__cause__ = exc
    assert type(classify_send_error(exc)) is TransientGatewayError


# --- Polling: every message of the poll gets its report ------------------------------------------


def test_a_poll_skips_an_unknown_message_or_status_and_still_reports_the_rest(twilio_server, caplog):
    gateway = make_gateway(twilio_server)
    sids = [gateway.send(make_sms(body=f"Message {n}")).provider_id for n in range(5)]
    twilio_server.set_status(sids[0], "partially_delivered")
    twilio_server.set_status(sids[1], "receiving")
    twilio_server.set_status(sids[2], "delivered")
    twilio_server.set_status(sids[3], "undelivered", error_code=30003)
    twilio_server.set_status(sids[4], "received")
    unknown = "SM" + "f" * 32
    refs = [SentRef(provider_id=sid, to=TO) for sid in [unknown, *sids]]

    with caplog.at_level("WARNING", logger="smsnotify.gateways.twilio"):
        reports = gateway.fetch_reports(refs)

    assert [(r.provider_id, r.status, r.billed) for r in reports] == [
        (sids[2], "delivered", True),
        (sids[3], "undelivered", False),  # 30003: the handset cannot be reached; the merchant is not charged
    ]
    assert [r.getMessage() for r in caplog.records if r.name == "smsnotify.gateways.twilio"] == [
        f"Twilio does not know message {unknown}; skipped.",
        f"Unknown Twilio status 'partially_delivered' for {sids[0]}; ignored.",  # an inbound status is not news
    ]


def test_a_poll_reports_a_failed_message_as_not_billed_and_a_delivered_one_as_billed(twilio_server):
    gateway = make_gateway(twilio_server)
    failed, delivered = (gateway.send(make_sms(body=f"Message {n}")).provider_id for n in range(2))
    twilio_server.set_status(failed, "failed", error_code=30008)
    twilio_server.set_status(delivered, "delivered")
    reports = gateway.fetch_reports([SentRef(provider_id=sid, to=TO) for sid in (failed, delivered)])
    assert [(r.status, r.billed) for r in reports] == [("failed", False), ("delivered", True)]


def test_a_polled_report_keeps_what_twilio_said_about_the_message(twilio_server):
    gateway = make_gateway(twilio_server, messaging_service_sid=SERVICE, from_number="")
    sid = gateway.send(make_sms()).provider_id  # the service has not picked a sender yet
    record = twilio_server.messages[sid]

    [report] = gateway.fetch_reports([SentRef(provider_id=sid, to=TO)])

    assert report.status == "sent"
    assert report.extra == {
        "twilio_status": "accepted", "to": TO, "from": "", "account_sid": twilio_server.account_sid,
        "num_segments": "0", "price": "", "price_unit": "USD",
        "date_updated": parse_rfc2822(record["date_updated"]).isoformat(),
    }


def test_a_polled_record_with_missing_fields_reads_as_empty_text_never_none():
    bare = types.SimpleNamespace(status=None, to=None, from_=None, account_sid=None, num_segments=None,
                                 price=None, price_unit=None, date_updated=None)
    assert twilio_gateway._message_extra(bare) == {
        "twilio_status": "", "to": "", "from": "", "account_sid": "", "num_segments": "", "price": "",
        "price_unit": "",
    }


# --- What a refusal says -------------------------------------------------------------------------


def test_a_refusal_in_the_newer_problem_format_keeps_its_detail_or_at_least_its_title():
    detailed = twilio_gateway.TwilioServiceException("about:blank", "Bad Request", 400, 21211, detail="Invalid 'To'")
    titled = twilio_gateway.TwilioServiceException("about:blank", "Bad Request", 400, 21211)
    assert (classify_send_error(detailed).text, classify_send_error(detailed).code) == ("Invalid 'To'", "21211")
    assert classify_send_error(titled).text == "Bad Request"


def test_a_refusal_without_a_status_or_code_is_ambiguous_with_code_zero():
    error = classify_send_error(twilio_gateway.TwilioRestException(None, "/Messages.json", msg="???"))
    assert (type(error), error.code, error.text) == (AmbiguousGatewayError, "0", "???")


def test_a_refusal_without_words_has_empty_text_and_reads_as_its_code():
    silent = classify_send_error(twilio_gateway.TwilioRestException(400, "/Messages.json", msg="", code=21211))
    untitled = classify_send_error(twilio_gateway.TwilioServiceException("about:blank", "", 400, 21211))
    for error in (silent, untitled):
        assert (type(error), error.text, str(error)) == (PermanentGatewayError, "", "21211")


def test_a_refusal_without_a_code_is_named_by_its_http_status():
    error = classify_send_error(twilio_gateway.TwilioRestException(400, "/Messages.json", msg="Bad request"))
    assert (type(error), error.code) == (PermanentGatewayError, "400")


def _rest(status, code=None, msg="Twilio's words"):
    return twilio_gateway.TwilioRestException(status, "/Messages.json", msg=msg, code=code)


@pytest.mark.parametrize(
    ("exc", "expected", "code", "text"),
    [
        pytest.param(_rest(429, 20429), TransientGatewayError, "20429", "Twilio's words", id="rate-limited"),
        pytest.param(_rest(400, 21611), TransientGatewayError, "21611", "Twilio's words", id="queue-full"),
        pytest.param(_rest(401, 20003), TransientGatewayError, "20003", "Twilio's words", id="credentials"),
        pytest.param(_rest(400, 21211), PermanentGatewayError, "21211", "Twilio's words", id="invalid-to"),
        pytest.param(_rest(500, 30001), AmbiguousGatewayError, "30001", "Twilio's words", id="500-wins-over-a-code"),
        pytest.param(_rest(500), AmbiguousGatewayError, "500", "Twilio's words", id="500"),
        pytest.param(_rest(302), AmbiguousGatewayError, "302", "Twilio's words", id="redirect"),
        pytest.param(requests.exceptions.InvalidURL("bad url"), TransientGatewayError, "url",
                     "Twilio request not sent: bad url", id="never-prepared"),
        pytest.param(requests.exceptions.ConnectTimeout("connect timed out"), TransientGatewayError, "connect",
                     "Could not connect to Twilio: connect timed out", id="connect-timeout"),
        pytest.param(requests.exceptions.ReadTimeout("read timed out"), AmbiguousGatewayError, "timeout",
                     "No answer from Twilio in time: read timed out", id="read-timeout"),
        pytest.param(requests.exceptions.ChunkedEncodingError("truncated"), AmbiguousGatewayError, "connection",
                     "Connection to Twilio failed after sending: truncated", id="truncated"),
        pytest.param(ValueError("not JSON"), AmbiguousGatewayError, "response",
                     "Unreadable answer from Twilio: not JSON", id="unreadable"),
        pytest.param(RuntimeError("surprise"), AmbiguousGatewayError, "unexpected",
                     "Unexpected error talking to Twilio: RuntimeError('surprise')", id="unknown"),
    ],
)
def test_each_failure_keeps_what_the_merchant_reads_in_the_history(exc, expected, code, text):
    error = classify_send_error(exc)
    assert (type(error), error.code, error.text) == (expected, code, text)


def test_a_connect_failure_raised_from_a_refused_connection_is_transient():
    # ``raise ConnectionError(...) from ConnectionRefusedError()``: the cause proves nothing was sent.
    exc = requests.exceptions.ConnectionError("could not reach api.twilio.com")
    exc.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert type(classify_send_error(exc)) is TransientGatewayError


# --- Configuration a deployment may leave out ---------------------------------------------------

_TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM_NUMBER",
                    "TWILIO_API_BASE_URL", "TWILIO_TIMEOUT", "TWILIO_MAX_IN_FLIGHT")


def _unset(dj_settings, *names):
    for name in names:
        setattr(dj_settings, name, None)  # recorded, so that the test restores it
        delattr(dj_settings, name)


def test_without_optional_settings_the_gateway_talks_to_twilio_itself_for_10_seconds_a_batch_at_once(dj_settings):
    _configure(dj_settings, SMS_DISPATCH_BATCH=80)
    _unset(dj_settings, "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE_URL", "TWILIO_TIMEOUT", "TWILIO_MAX_IN_FLIGHT")
    gateway = TwilioGateway()
    assert (gateway.timeout, gateway.max_in_flight) == (10.0, 80)  # a batch waits for one answer time
    assert gateway._sender_kwargs(make_sms()) == {"from_": FROM}  # no Messaging Service
    with gateway:
        assert gateway._client.api.base_url == "https://api.twilio.com"


@pytest.mark.parametrize("name", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"])
def test_a_credential_left_out_of_the_settings_is_improperly_configured(dj_settings, name):
    _configure(dj_settings)
    _unset(dj_settings, name)
    with pytest.raises(ImproperlyConfigured, match=name):
        TwilioGateway()


def test_without_any_sender_setting_the_gateway_is_improperly_configured(dj_settings):
    _configure(dj_settings)
    _unset(dj_settings, "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM_NUMBER")
    with pytest.raises(ImproperlyConfigured, match="TWILIO_FROM_NUMBER"):
        TwilioGateway()


def test_an_empty_api_base_url_means_twilio_itself(dj_settings):
    _configure(dj_settings, TWILIO_API_BASE_URL=None)
    with TwilioGateway() as gateway:
        assert gateway._client.api.base_url == "https://api.twilio.com"


@pytest.mark.parametrize("timeout", [0, -1])
def test_a_timeout_that_is_not_positive_is_improperly_configured(dj_settings, timeout):
    _configure(dj_settings, TWILIO_TIMEOUT=timeout)
    with pytest.raises(ImproperlyConfigured, match="TWILIO_TIMEOUT"):
        TwilioGateway()


def test_a_timeout_under_a_second_is_allowed(dj_settings):
    _configure(dj_settings, TWILIO_TIMEOUT=0.5)
    assert TwilioGateway().timeout == 0.5


@pytest.mark.parametrize("url", ["https://twilio.example.com", "http://127.0.0.1:8080"])
def test_an_http_or_https_api_base_url_is_accepted(dj_settings, url):
    _configure(dj_settings, TWILIO_API_BASE_URL=url + "/")
    with TwilioGateway() as gateway:
        assert gateway._client.api.base_url == url


@pytest.mark.parametrize("url", ["ftp://twilio.example.com", "twilio.example.com"])
def test_an_api_base_url_that_is_not_http_is_improperly_configured(dj_settings, url):
    _configure(dj_settings, TWILIO_API_BASE_URL=url)
    with pytest.raises(ImproperlyConfigured, match="TWILIO_API_BASE_URL"):
        TwilioGateway()


def test_explicit_arguments_win_over_the_settings(dj_settings, twilio_server):
    _configure(dj_settings, TWILIO_ACCOUNT_SID="AC" + "9" * 32, TWILIO_AUTH_TOKEN="other",
               TWILIO_MESSAGING_SERVICE_SID=SERVICE, TWILIO_FROM_NUMBER="+15550001111",
               TWILIO_API_BASE_URL="http://127.0.0.1:9", TWILIO_TIMEOUT=1)
    gateway = make_gateway(twilio_server, timeout=4)
    gateway.send(make_sms())
    assert gateway.timeout == 4.0
    [post] = twilio_server.posts
    assert post.path.startswith(f"/2010-04-01/Accounts/{twilio_server.account_sid}/")
    assert post.form_lists["From"] == [FROM] and "MessagingServiceSid" not in post.form_lists


@pytest.mark.parametrize("scheme", ["https://", "http://"])
def test_no_request_is_ever_retried_by_the_http_library_on_either_scheme(scheme):
    # A retry after a read timeout would post the message twice; the caller's backoff retries instead.
    gateway = TwilioGateway(account_sid="AC" + "0" * 32, auth_token="token", messaging_service_sid="",
                            from_number=FROM, api_base_url="", timeout=5)
    gateway.max_in_flight = 7
    with gateway:
        pool = gateway._pool.connection_from_url(scheme + "api.twilio.com/")
        retries = pool.retries
        assert (retries.total, retries.connect, retries.read, retries.redirect, retries.status) == (0, 0, False, 0, 0)
        assert pool.pool.maxsize == 7  # one pooled connection per call in flight


def test_each_call_is_sent_with_no_retry_whatever_the_pool_says(twilio_server, monkeypatch):
    calls = []
    gateway = make_gateway(twilio_server)
    with gateway:
        urlopen = gateway._pool.urlopen
        monkeypatch.setattr(gateway._pool, "urlopen", lambda *a, **kw: calls.append(kw) or urlopen(*a, **kw))
        gateway.send(make_sms())
    assert calls[0]["retries"] is twilio_gateway._NO_RETRIES
    assert calls[0]["redirect"] is False


def test_find_sent_with_a_messaging_service_finds_a_record_whose_service_field_is_blank(twilio_server):
    # Older records and some API versions give "" rather than null: that is no other service.
    gateway = service_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.messages[sid]["messaging_service_sid"] = ""
    assert gateway.find_sent(make_sms(), since=since) == SendResult(provider_id=sid, status="sent")


def test_find_sent_takes_a_naive_start_as_utc(twilio_server):
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.set_status(sid, "sent")

    assert gateway.find_sent(make_sms(), since=since.replace(tzinfo=None)) == SendResult(provider_id=sid)
    # naive and an hour later (in UTC) than the message: not this one
    assert gateway.find_sent(make_sms(), since=(since + dt.timedelta(hours=1)).replace(tzinfo=None)) is None


def test_find_sent_keeps_the_instant_of_a_start_given_in_another_time_zone(twilio_server):
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.set_status(sid, "sent")
    east = since.astimezone(dt.timezone(dt.timedelta(hours=5)))  # the same instant, read in UTC+5

    assert gateway.find_sent(make_sms(), since=east) == SendResult(provider_id=sid)


def test_find_sent_is_sure_a_message_is_absent_when_the_recent_history_is_shorter_than_the_limit(twilio_server,
                                                                                                monkeypatch):
    monkeypatch.setattr(twilio_gateway, "FIND_SCAN_LIMIT", 3)
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    for n in range(2):
        gateway.send(make_sms(body=f"Other message {n}"))

    assert gateway.find_sent(make_sms(), since=since) is None


def test_find_sent_reads_no_further_back_than_the_limit(twilio_server, monkeypatch):
    # Our message waits in Twilio's queue (no date_sent) behind three newer ones: past the limit
    # the answer is "cannot tell", never a guess from an unbounded scan.
    monkeypatch.setattr(twilio_gateway, "FIND_SCAN_LIMIT", 3)
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    gateway.send(make_sms())
    for n in range(3):
        gateway.send(make_sms(body=f"Other message {n}"))

    with pytest.raises(TransientGatewayError) as caught:
        gateway.find_sent(make_sms(), since=since)

    assert caught.value.code == "inconclusive"


def test_find_sent_finds_a_message_created_exactly_at_the_clock_skew_limit(twilio_server):
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.messages[sid]["date_created"] = rfc2822(since - twilio_gateway.CLOCK_SKEW)

    assert gateway.find_sent(make_sms(), since=since) == SendResult(provider_id=sid)


# --- Sending: connections, logging and a success without a SID -----------------------------------


def test_sends_outside_a_batch_reuse_the_process_connection_and_leave_nothing_on_the_gateway(twilio_server):
    gateway = make_gateway(twilio_server)
    gateway.send(make_sms(body="one"))
    assert gateway._pool is None  # nothing held by the gateway between sends
    make_gateway(twilio_server).send(make_sms(body="two"))
    assert len({post.client for post in twilio_server.posts}) == 1  # one keep-alive socket, no new handshake


def test_a_batch_after_a_batch_reuses_its_connections(twilio_server):
    """Each delivery run builds its gateway: the process keeps the sockets (and the SDK clients)
    open between runs, so a run pays no TCP/TLS handshake per call in flight."""
    first, second = make_gateway(twilio_server), make_gateway(twilio_server)
    first.max_in_flight = second.max_in_flight = 4
    with first:
        first.send_many([make_sms(reference=f"msg-{n}", body=f"first {n}") for n in range(8)])
    with second:
        second.send_many([make_sms(reference=f"msg-{n}", body=f"second {n}") for n in range(8)])
    first_ports = {post.client for post in twilio_server.posts[:8]}
    second_ports = {post.client for post in twilio_server.posts[8:]}
    assert first_ports & second_ports  # sockets of the first run carried the second's calls
    assert len(first_ports | second_ports) <= 4  # never more sockets than calls in flight


def test_a_connection_idle_longer_than_the_keep_alive_limit_is_not_reused(twilio_server, monkeypatch):
    # A balancer may close an idle socket just as a request goes out on it (an ambiguous failure).
    gateway = make_gateway(twilio_server)
    gateway.send(make_sms(body="one"))
    monkeypatch.setattr(twilio_gateway, "KEEP_ALIVE_IDLE_SECONDS", 0.05)
    time.sleep(0.1)
    gateway.send(make_sms(body="two"))
    assert len({post.client for post in twilio_server.posts}) == 2


def test_a_gateway_with_other_settings_gets_a_connection_of_its_own(twilio_server):
    with make_gateway(twilio_server, timeout=5) as five, make_gateway(twilio_server, timeout=7) as seven:
        assert five._pool is not seven._pool
        assert (five._client.http_client.timeout, seven._client.http_client.timeout) == (5.0, 7.0)
        five.send(make_sms(body="five"))
        seven.send(make_sms(body="seven"))
        other, kept = five._pool, seven._pool
    # The process keeps the newest; the other, let go by its only user, is closed with its sockets.
    assert len(kept.pools) == 1
    assert len(other.pools) == 0


def test_a_connection_in_use_is_not_closed_by_a_gateway_with_other_settings(twilio_server):
    busy = make_gateway(twilio_server, timeout=5)
    busy.open()
    try:
        with make_gateway(twilio_server, timeout=7) as other:
            other.send(make_sms(body="other"))
        assert busy.send(make_sms(body="busy")).provider_id.startswith("SM")
    finally:
        busy.close()


def test_a_forked_process_does_not_share_the_parents_sockets(twilio_server):
    gateway = make_gateway(twilio_server)
    with gateway:
        parent_pool = gateway._pool
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a Celery prefork worker process
        try:
            with make_gateway(twilio_server) as child:
                os.write(writer, b"new" if child._pool is not parent_pool else b"shared")
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 16)
    os.waitpid(pid, 0)
    assert answer == b"new"


def test_proxy_settings_of_the_environment_are_read_once_and_still_apply(twilio_server, monkeypatch):
    monkeypatch.setattr(twilio_gateway._Connection, "_current", None)  # the environment is read when one is made
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/operator-ca.pem")
    gateway = TwilioGateway(account_sid="AC" + "0" * 32, auth_token="token", messaging_service_sid="",
                            from_number=FROM, api_base_url="", timeout=5)
    with gateway:
        pool = gateway._pool
        assert (pool.proxy.host, pool.proxy.port) == ("proxy.example", 3128)
        assert pool.proxy_headers == {"proxy-authorization": "Basic " + base64.b64encode(b"user:secret").decode()}
        assert pool.connection_pool_kw["ca_certs"] == "/etc/ssl/certs/operator-ca.pem"
        assert pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    with make_gateway(twilio_server) as local:  # 127.0.0.1 is in NO_PROXY: straight to the server
        assert not isinstance(local._pool, urllib3.ProxyManager)
        local.send(make_sms())
    assert len(twilio_server.posts) == 1


def test_without_a_ca_bundle_in_the_environment_twilio_is_checked_against_requests_own(monkeypatch):
    monkeypatch.setattr(twilio_gateway._Connection, "_current", None)  # the environment is read when one is made
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    gateway = TwilioGateway(account_sid="AC" + "0" * 32, auth_token="token", messaging_service_sid="",
                            from_number=FROM, api_base_url="", timeout=5)
    with gateway:
        assert gateway._pool.connection_pool_kw["ca_certs"] == requests.certs.where()
        assert gateway._pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"


def test_a_socks_proxy_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(twilio_gateway._Connection, "_current", None)  # the environment is read when one is made
    monkeypatch.setenv("HTTPS_PROXY", "socks5://proxy.example:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    gateway = TwilioGateway(account_sid="AC" + "0" * 32, auth_token="token", messaging_service_sid="",
                            from_number=FROM, api_base_url="", timeout=5)
    with pytest.raises(ImproperlyConfigured, match="socks5://proxy.example"):
        gateway.open()


def test_a_lookup_outside_a_batch_opens_and_closes_its_own_connection(twilio_server):
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    assert gateway.find_sent(make_sms(), since=since) == SendResult(provider_id=sid)
    assert gateway.fetch_reports([SentRef(provider_id=sid, to=TO)])[0].provider_id == sid
    assert gateway._pool is None


def test_a_batch_that_ends_closes_its_connection_and_a_second_open_keeps_the_first(twilio_server):
    gateway = make_gateway(twilio_server)
    gateway.open()
    session = gateway._pool
    gateway.open()
    assert gateway._pool is session
    gateway.send(make_sms())
    gateway.close()
    assert gateway._pool is None and gateway._client is None
    gateway.close()  # closing twice is harmless


def test_a_region_or_edge_in_the_environment_does_not_move_a_custom_api_base_url(twilio_server, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    make_gateway(twilio_server).send(make_sms())
    assert len(twilio_server.posts) == 1


def test_a_success_without_a_message_sid_is_ambiguous(twilio_server):
    twilio_server.script(Reply(status=201, body=b'{"sid": null, "status": "queued"}'))
    with pytest.raises(AmbiguousGatewayError) as caught:
        make_gateway(twilio_server).send(make_sms())
    assert caught.value.code == "response"


def test_a_failed_send_is_logged_with_its_message_recipient_and_answer(twilio_server, caplog):
    twilio_server.script(Reply(status=400, code=21211))
    with caplog.at_level("WARNING", logger="smsnotify.gateways.twilio"), pytest.raises(PermanentGatewayError):
        make_gateway(twilio_server).send(make_sms(reference="msg-7"))
    [record] = [r for r in caplog.records if r.name == "smsnotify.gateways.twilio"]
    assert record.getMessage() == f"Twilio send msg-7 to {TO} failed: PermanentGatewayError 21211"
    assert not record.exc_info  # an answer from Twilio needs no traceback


def test_an_unexpected_send_failure_is_logged_with_its_traceback(twilio_server, caplog, monkeypatch):
    gateway = make_gateway(twilio_server)
    monkeypatch.setattr(twilio_gateway, "Client", lambda *args, **kwargs: (_ for _ in ()).throw(KeyError("sdk bug")))
    with caplog.at_level("WARNING", logger="smsnotify.gateways.twilio"), pytest.raises(AmbiguousGatewayError):
        gateway.send(make_sms())
    [record] = [r for r in caplog.records if r.name == "smsnotify.gateways.twilio"]
    assert record.getMessage().endswith("failed: AmbiguousGatewayError unexpected")
    assert record.exc_info is not None


# --- The SDK's HTTP client: the process's urllib3 pool, failures raised as requests raises them ---


def _pool_error(reason):
    return MaxRetryError(None, "/Messages.json", reason)


@pytest.mark.parametrize(
    ("failure", "as_requests", "expected", "code"),
    [
        pytest.param(_pool_error(NewConnectionError(None, "refused")), requests.exceptions.ConnectionError,
                     TransientGatewayError, "connect", id="refused"),
        pytest.param(_pool_error(NameResolutionError("api.twilio.com", None, socket.gaierror(-2, "Name unknown"))),
                     requests.exceptions.ConnectionError, TransientGatewayError, "connect", id="dns"),
        pytest.param(_pool_error(ConnectTimeoutError(None, "connect timed out")), requests.exceptions.ConnectTimeout,
                     TransientGatewayError, "connect", id="connect-timeout"),
        pytest.param(_pool_error(urllib3.exceptions.SSLError(ssl.SSLCertVerificationError("bad certificate"))),
                     requests.exceptions.SSLError, TransientGatewayError, "connect", id="certificate"),
        pytest.param(urllib3.exceptions.ClosedPoolError(None, "closed"), requests.exceptions.ConnectionError,
                     TransientGatewayError, "connect", id="closed-pool"),
        pytest.param(urllib3.exceptions.LocationValueError("no host"), requests.exceptions.InvalidURL,
                     TransientGatewayError, "url", id="bad-url"),
        pytest.param(ReadTimeoutError(None, "/Messages.json", "read timed out"), requests.exceptions.ReadTimeout,
                     AmbiguousGatewayError, "timeout", id="read-timeout"),
        pytest.param(ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed")),
                     requests.exceptions.ConnectionError, AmbiguousGatewayError, "connection", id="dropped"),
        pytest.param(ConnectionResetError(104, "reset"), requests.exceptions.ConnectionError, AmbiguousGatewayError,
                     "connection", id="reset"),
        pytest.param(_pool_error(urllib3.exceptions.ProxyError("proxy", OSError("gone"))),
                     requests.exceptions.ProxyError, AmbiguousGatewayError, "connection", id="proxy"),
        pytest.param(_pool_error(urllib3.exceptions.ResponseError("too many")), requests.exceptions.RetryError,
                     AmbiguousGatewayError, "connection", id="retry"),
    ],
)
def test_a_failure_of_the_pool_is_raised_and_classified_as_requests_would_raise_it(failure, as_requests, expected,
                                                                                   code):
    mapped = twilio_gateway._as_requests_error(failure)
    assert type(mapped) is as_requests and mapped.args == (failure,)  # carrying urllib3's, as requests' would
    error = classify_send_error(mapped)
    assert (type(error), error.code) == (expected, code)


def test_any_other_failure_of_the_pool_is_raised_as_it_is():
    failure = urllib3.exceptions.DecodeError("bad gzip")
    assert twilio_gateway._as_requests_error(failure) is failure


def test_list_values_are_sent_once_each_and_absent_ones_not_at_all(twilio_server):
    with make_gateway(twilio_server) as gateway:
        gateway._client.messages.create(to=TO, from_=FROM, body="Look", media_url=["https://a.example/1.png",
                                                                                  "https://a.example/2.png"])
    [post] = twilio_server.posts
    assert post.form_lists["MediaUrl"] == ["https://a.example/1.png", "https://a.example/2.png"]
    assert twilio_gateway._form_pairs({"A": None, "B": [None, "x"], "C": 3}) == [("B", "x"), ("C", 3)]


def test_a_json_request_of_the_sdk_is_sent_as_json(twilio_server, monkeypatch):
    sent = []
    with make_gateway(twilio_server) as gateway:
        monkeypatch.setattr(gateway._pool, "urlopen", lambda method, url, **kw: sent.append(kw) or
                            urllib3.HTTPResponse(body=b'{"ok": true}', status=200, preload_content=True))
        answer = gateway._client.http_client.request("POST", twilio_server.base_url + "/v1/Things", data={"a": [1]},
                                                     headers={"Content-Type": "application/json"})
    assert sent[0]["body"] == b'{"a": [1]}'
    assert (answer.status_code, answer.text) == (200, '{"ok": true}')


def test_the_sdk_logs_each_call_without_the_credentials_when_asked(twilio_server, caplog):
    with caplog.at_level("INFO", logger="twilio.http_client"):
        make_gateway(twilio_server).send(make_sms())
    lines = [record.getMessage() for record in caplog.records if record.name == "twilio.http_client"]
    assert any(line.startswith("POST Request: " + twilio_server.base_url) for line in lines)
    assert any(line == "Response Status Code: 201" for line in lines)
    assert not any(twilio_server.auth_token in line or "Basic " in line for line in lines)


def test_an_incoming_message_is_read_from_its_current_or_older_field_names():
    from smsnotify.gateways.twilio import parse_inbound

    sid = "SM" + "c" * 32
    current = parse_inbound({"MessageSid": sid, "From": "+12025550123", "To": "+12025550100", "Body": "STOP",
                             "OptOutType": "stop"})
    assert (current.provider_id, current.sender, current.to, current.body, current.gateway, current.opt_out_type) == (
        sid, "+12025550123", "+12025550100", "STOP", "twilio", "STOP")
    older = parse_inbound({"SmsSid": sid, "From": "+12025550123"})
    assert (older.provider_id, older.to, older.body, older.opt_out_type) == (sid, "", "", "")
    for params in ({"From": "+12025550123"}, {"MessageSid": sid}):
        with pytest.raises(ValueError, match="^Not a Twilio incoming message: no MessageSid or From.$"):
            parse_inbound(params)


def test_a_status_callback_without_a_message_sid_is_refused_saying_so():
    with pytest.raises(ValueError, match="^Not a Twilio message status callback: no MessageSid.$"):
        parse_status_callback({"MessageStatus": "delivered"})



def test_what_a_forked_child_runs_drops_the_parents_connection_and_a_lock_it_may_have_held(monkeypatch):
    """The fork test above runs this in its child, where coverage (and mutation testing) cannot see."""
    import threading

    from smsnotify.gateways.twilio import _Connection

    held = threading.Lock()
    held.acquire()  # a thread of the parent was opening the connection at the fork
    monkeypatch.setattr(_Connection, "_current", object())
    monkeypatch.setattr(_Connection, "_lock", held)
    _Connection.forget()  # registered with os.register_at_fork(after_in_child=...)
    assert _Connection._current is None
    assert _Connection._lock is not held and not _Connection._lock.locked()


def test_the_sdks_requests_reach_the_pool_as_the_sdks_own_client_would_send_them():
    """_HttpClient stands in for the SDK's requests-based client: query, form or JSON body,
    credentials, timeout, no redirect followed, no retry, the whole answer read."""
    import types

    calls = []

    class Pool:
        def urlopen(self, method, url, **kwargs):
            calls.append((method, url, kwargs))
            return types.SimpleNamespace(status=200, data=b"{}", headers={})

    connection = types.SimpleNamespace(timeout=7.0, pool=Pool())
    client = twilio_gateway._HttpClient(connection)
    base = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    assert client.request("get", base, params={"To": "+1 202", "PageSize": 20}).status_code == 200
    client.request("GET", base + "?Page=2", params={"To": "+1202"}, timeout=3)
    client.request("post", base, data={"Body": "Hi & bye", "To": "+1202"}, auth=("AC1", "token"))
    client.request("POST", base, data={"a": [1, 2]}, headers={"Content-Type": "application/json"})
    client.request("POST", base, data={"a": 1}, headers={"Content-Type": "application/scim+json"})
    (m1, url1, get), (m2, url2, paged), (m3, url3, form), (_, _, json_body), (_, _, scim_body) = calls
    assert (m1, url1) == ("GET", base + "?To=%2B1+202&PageSize=20")
    assert (m2, url2) == ("GET", base + "?Page=2&To=%2B1202")  # a URL with a query gets "&"
    assert get["body"] is None and form["body"] == b"Body=Hi+%26+bye&To=%2B1202"
    assert form["headers"]["Authorization"] == "Basic " + base64.b64encode(b"AC1:token").decode()
    assert json_body["body"] == b'{"a": [1, 2]}' and scim_body["body"] == b'{"a": 1}'
    assert (get["timeout"].connect_timeout, get["timeout"].read_timeout) == (7.0, 7.0)  # the gateway's
    assert (paged["timeout"].connect_timeout, paged["timeout"].read_timeout) == (3, 3)  # the SDK's own
    for _method, _url, options in calls:
        assert (options["redirect"], options["retries"], options["assert_same_host"], options["preload_content"]) \
            == (False, twilio_gateway._NO_RETRIES, False, True)


@pytest.mark.parametrize("field", ["body", "from"])
def test_find_sent_does_not_take_a_record_without_a_body_or_a_sender_for_ours(twilio_server, field):
    # Twilio leaves a field null on some records (a body it redacted, a sender not yet picked).
    gateway = make_gateway(twilio_server)
    since = dt.datetime.now(dt.timezone.utc)
    sid = gateway.send(make_sms()).provider_id
    twilio_server.messages[sid][field] = None
    assert gateway.find_sent(make_sms(), since=since) is None
