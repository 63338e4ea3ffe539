"""Tenant isolation, swept from the URL conf instead of listed by hand.

Every URL that takes an object id (the admin's change / history / delete pages, the bare
``<id>/`` redirect, every custom page such as send-sms, receipt, reset, and any non-admin
view with an id) is requested with another shop's object, by a merchant of shop A and by
an anonymous visitor, with GET and with POST. The answer must be a 404 (or 403 / 405 /
the login page): never the page, never a 5xx; and nothing in the database may change.

New pages are covered without anyone listing them: a new admin model fails here until
``BUILDERS`` can make one of its rows, and a new URL parameter fails until the sweep is
told what it is (``SITE_ENDPOINTS``, ``NON_ADMIN_ENDPOINTS``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone
from django.views.generic import RedirectView
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from campaigns.models import (
    AbandonedCartSettings,
    BulkSend,
    Conversation,
    DateCampaign,
    FailedMessage,
    InboxSettings,
    MarketingSettings,
    OptOut,
    OrderAttribution,
    OrderStatusRule,
    SatisfactionRating,
    SatisfactionSurvey,
    ScheduledMessage,
)
from credits.models import CreditAccount, CreditPack, DestinationRate, LedgerEntry, PricingSettings, Purchase
from credits.ledger import credits_grant_bonus
from credits.purchases import purchase_create
from shop.customer_import import customer_import_preview
from shop.models import (
    AccountSettings,
    BackInStockSubscription,
    Cart,
    CodeRefusal,
    Coupon,
    Customer,
    CustomerImport,
    Order,
    Product,
    Shop,
    StaffMembership,
    Ticket,
)
from shop.tenancy import ShopScopedAdmin
from smsnotify.models import Message, SenderRate, SmsSettings
from smsnotify.report import report_messages
from templates_sms.models import SmsTemplate
from tests.factories import (
    BackInStockSubscriptionFactory,
    CartFactory,
    CartItemFactory,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    ProductFactory,
    TicketFactory,
    make_merchant,
    make_shop,
)

pytestmark = pytest.mark.django_db


def _rating(shop: Shop) -> SatisfactionRating:
    """A customer's answer to a survey text about one of the shop's orders."""
    order = OrderFactory(shop=shop)
    survey = MessageFactory(shop=shop, kind="date_campaign", order=order, status="delivered", sent_at=timezone.now())
    SatisfactionSurvey.objects.create(shop=shop, message=survey, order=order)
    answer = MessageFactory(shop=shop, direction="in", kind="inbound", body="4", status="delivered")
    return SatisfactionRating.objects.create(shop=shop, order=order, customer=order.customer, survey_message=survey,
                                             message=answer, score=4)


def _attribution(shop: Shop) -> OrderAttribution:
    """An order credited to a bulk send's text (the Campaign revenue page's rows)."""
    order = OrderFactory(shop=shop)
    text = MessageFactory(shop=shop, kind="bulk", batch_ref="bulk:1", status="delivered", credits_charged=12)
    return OrderAttribution.objects.create(shop=shop, order=order, message=text, campaign="bulk:1", source="click")


# --- one row per registered admin model -----------------------------------------------------
# A builder makes one row "of" ``shop``. Tenant-owned models (ShopScopedAdmin) are built for
# both shops (A's row proves the page opens for its owner); platform models only for B.

BUILDERS: dict[type[models.Model], Callable[[Shop], models.Model]] = {
    # the tenant's own rows
    Shop: lambda shop: shop,
    Customer: lambda shop: CustomerFactory(shop=shop),
    Product: lambda shop: ProductFactory(shop=shop),
    Order: lambda shop: OrderFactory(shop=shop),
    Cart: lambda shop: CartItemFactory(cart=CartFactory(shop=shop)).cart,  # with an inline row
    Ticket: lambda shop: TicketFactory(shop=shop),
    MarketingSettings: lambda shop: MarketingSettings.objects.get(shop=shop),  # made with the shop
    # sending, so that a cancel would really change it
    BulkSend: lambda shop: BulkSend.objects.create(shop=shop, body="Sale", send_key=uuid.uuid4(), status="sending",
                                                   recipients=1),
    OptOut: lambda shop: OptOut.objects.create(shop=shop, phone="+12025550166"),
    BackInStockSubscription: lambda shop: BackInStockSubscriptionFactory(shop=shop),
    # waiting for its confirmation, so that confirming would write customers
    CustomerImport: lambda shop: customer_import_preview(shop=shop, upload=SimpleUploadedFile(
        f"{shop.name}.csv", b"Mobile Number,International Calling Code,Is Member,First Name\n2025550143,+1,Y,Imported\n")),
    # unread and open, so that reading, closing or replying would change it
    Conversation: lambda shop: Conversation.objects.create(shop=shop, phone="+12025550177", unread=2,
                                                           customer=CustomerFactory(shop=shop)),
    InboxSettings: lambda shop: InboxSettings.objects.get(shop=shop),  # made with the shop
    SatisfactionRating: _rating,  # read-only: a POST must change nothing
    OrderAttribution: _attribution,  # read-only; its list is the Campaign revenue report
    OrderStatusRule: lambda shop: OrderStatusRule.objects.create(
        shop=shop, status="shipped", product=ProductFactory(shop=shop), delay_days=2),
    DateCampaign: lambda shop: DateCampaign.objects.create(
        shop=shop, name="Birthday", trigger="birthday", template=SmsTemplate.objects.get(
            shop=shop, event="date:birthday", is_standard=True)),
    AbandonedCartSettings: lambda shop: AbandonedCartSettings.objects.create(shop=shop, active=True),
    Coupon: lambda shop: Coupon.objects.create(shop=shop, code=f"SWEEP{shop.pk}", kind="percent", value=10,
                                               valid_until=timezone.now(), customer=CustomerFactory(shop=shop)),
    SmsSettings: lambda shop: SmsSettings.objects.get(shop=shop),  # made with the shop
    AccountSettings: lambda shop: AccountSettings.objects.get(shop=shop),  # made with the shop
    CodeRefusal: lambda shop: CodeRefusal.objects.create(shop=shop, reason="country", channel="sms",
                                                         purpose="signup", address="+48601234567", ip="203.0.113.9"),
    Message: lambda shop: MessageFactory(shop=shop),
    # the merchant's lists: a text waiting to leave (a cancel would change it), one that failed
    ScheduledMessage: lambda shop: ScheduledMessage.objects.get(
        pk=MessageFactory(shop=shop, send_at=timezone.now() + dt.timedelta(days=1)).pk),
    FailedMessage: lambda shop: FailedMessage.objects.get(
        pk=MessageFactory(shop=shop, status="failed", error_code="21211", error_text="Invalid 'To'").pk),
    CreditAccount: lambda shop: CreditAccount.objects.get(shop=shop),  # made with the shop
    LedgerEntry: lambda shop: credits_grant_bonus(shop=shop, amount=500, reason="isolation sweep"),
    # pending, so that confirm and cancel would really change it
    Purchase: lambda shop: purchase_create(shop=shop, method="bank_transfer", credits=1000),
    # a standard one, so that reset has something to reset
    SmsTemplate: lambda shop: SmsTemplate.objects.filter(shop=shop, is_standard=True).first(),
    # the platform's rows: no merchant may open them, whoever they concern
    User: lambda shop: make_merchant(shop),
    StaffMembership: lambda shop: make_merchant(shop).membership,
    Group: lambda shop: Group.objects.create(name=f"staff of {shop.slug}"),
    PricingSettings: lambda shop: PricingSettings.load(),
    SenderRate: lambda shop: SenderRate.objects.create(sender=f"+1202555{shop.pk:04d}", segments_per_second=2),
    DestinationRate: lambda shop: DestinationRate.objects.create(calling_code=48, credits_per_segment=20),
    CreditPack: lambda shop: CreditPack.objects.create(name="Sweep pack", credits=700, prices={"USD": 700}),
    IntervalSchedule: lambda shop: IntervalSchedule.objects.create(every=17, period=IntervalSchedule.SECONDS),
    CrontabSchedule: lambda shop: CrontabSchedule.objects.create(minute="17"),
    SolarSchedule: lambda shop: SolarSchedule.objects.create(event="sunrise", latitude=54.35, longitude=18.65),
    ClockedSchedule: lambda shop: ClockedSchedule.objects.create(clocked_time=timezone.now()),
    PeriodicTask: lambda shop: PeriodicTask.objects.create(
        name=f"sweep of {shop.slug}", task="smsnotify.dispatch_due",
        interval=IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)),
}


def _is_tenant_owned(model) -> bool:
    return isinstance(admin.site._registry[model], ShopScopedAdmin)


# --- the URL conf, walked -----------------------------------------------------------------------

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Endpoint:
    route: str  # the whole route, as ResolverMatch.route spells it
    name: str  # "admin:shop_order_send_sms"; the route itself for an unnamed pattern
    params: tuple[str, ...]
    callback: Callable
    regex: bool  # some part is a regular expression: no route to fill in

    @property
    def is_redirect(self) -> bool:
        """Django's ``<id>/`` → ``<id>/change/`` redirect: it answers before any lookup."""
        return getattr(self.callback, "view_class", None) is RedirectView

    def path(self, **values) -> str:
        return "/" + _PARAM.sub(lambda m: str(values[m.group(1)]), self.route)


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "",
          params: tuple[str, ...] = (), regex: bool = False) -> Iterator[Endpoint]:
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        names = tuple(pattern.regex.groupindex) if isinstance(pattern, RegexPattern) else tuple(pattern.converters)
        route, is_regex = prefix + str(pattern), regex or isinstance(pattern, RegexPattern)
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _walk(entry, route, inner, params + names, is_regex)
        else:
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or route
            yield Endpoint(route, name, params + names, entry.callback, is_regex)


ADMIN_PREFIX = reverse("admin:index").lstrip("/")

# Admin URLs outside any ModelAdmin that take parameters: what each parameter is.
VIEW_ON_SITE = "admin:view_on_site"
SITE_ENDPOINTS = {
    VIEW_ON_SITE: "an object id (with its content type): swept for every model",
    "admin:app_list": "an app label, not a row",
    ADMIN_PREFIX + "(?P<url>.*)$": "the admin's catch-all 404, not a row",
}
# Non-admin URLs that take parameters: the model whose id they take, or why it is no id.
NON_ADMIN_ENDPOINTS: dict[str, type[models.Model] | str] = {
    "credits:payment-webhook": "a payment provider's name; the purchase is named in the signed body",
    "storefront:product": "a public page: the shop's slug and one of its products (another shop's product "
                          "is a 404: tests/shop/test_storefront.py)",
    **{f"storefront:{name}": "the shop's slug: an account page acts only on the customer logged in to that shop in "
                             "the session (tests/shop/test_accounts.py)"
       for name in ("account", "signup", "verify", "login", "logout", "change-number", "verify-email", "reset",
                    "reset-confirm")},
}


def _model_of(endpoint: Endpoint):
    for model in admin.site._registry:
        if endpoint.route.startswith(f"{ADMIN_PREFIX}{model._meta.app_label}/{model._meta.model_name}/"):
            return model
    return None


@dataclass(frozen=True)
class Case:
    endpoint: Endpoint
    model: type[models.Model]

    @property
    def id(self) -> str:
        return f"{self.endpoint.name}[{self.model._meta.label}]"


def _classify() -> tuple[list[Case], list[str]]:
    """The (endpoint, model) pairs to sweep, and what the sweep cannot place (each a failure)."""
    cases, unplaced = [], []
    for endpoint in _walk(get_resolver()):
        if not endpoint.params:
            continue
        model = _model_of(endpoint)
        if model is not None:
            if len(endpoint.params) != 1 or endpoint.regex:
                unplaced.append(f"{endpoint.name}: a model admin URL with parameters {endpoint.params}")
            else:
                cases.append(Case(endpoint, model))
        elif endpoint.route.startswith(ADMIN_PREFIX):
            if endpoint.name not in SITE_ENDPOINTS:
                unplaced.append(f"{endpoint.name}: a site-wide admin URL with parameters {endpoint.params}")
            elif endpoint.name == VIEW_ON_SITE:
                cases += [Case(endpoint, model) for model in admin.site._registry]
        else:
            target = NON_ADMIN_ENDPOINTS.get(endpoint.name)
            if target is None or endpoint.regex:
                unplaced.append(f"{endpoint.name} ({endpoint.route}): a URL with parameters {endpoint.params}")
            elif not isinstance(target, str):
                cases.append(Case(endpoint, target))
    return cases, unplaced


CASES, UNPLACED = _classify()

# Known leaks or crashes in views this branch may not change: (endpoint name, model label) → why.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _params(case: Case) -> list:
    marks = []
    reason = KNOWN_FAILURES.get((case.endpoint.name, case.model._meta.label))
    if reason:
        marks.append(pytest.mark.xfail(strict=True, reason=reason))
    return [pytest.param(case, id=case.id, marks=marks)]


# --- the two shops, built once for the module -----------------------------------------------


@dataclass
class World:
    merchant_a: User
    own: dict  # model → shop A's row (tenant-owned models only)
    foreign: dict  # model → shop B's row (every registered model)
    marker: str  # shop B's name: must never appear in an answer to shop A
    row_queries: list = field(default_factory=list)
    count_query: str = ""


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Rows for every model, made once and rolled back after the module; each test runs in
    its own savepoint inside, so what one test's POST did cannot hide from the next."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            marker = f"Isolation shop B {uuid.uuid4().hex[:8]}"
            shop_a, shop_b = make_shop(name="Isolation shop A"), make_shop(name=marker)
            registered = [model for model in admin.site._registry if model in BUILDERS]
            built = World(
                merchant_a=make_merchant(shop_a),
                own={model: BUILDERS[model](shop_a) for model in registered if _is_tenant_owned(model)},
                foreign={model: BUILDERS[model](shop_b) for model in registered},
                marker=marker,
            )
            built.row_queries, built.count_query = _state_queries(built.foreign)
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def _database_state(world: World) -> tuple:
    """Every row of shop B's that the sweep aims at, and how many rows every table holds
    (sessions aside: logging in writes one). Raw SQL made once: the ORM's per-query cost
    would be most of the sweep's time."""
    with connection.cursor() as cursor:
        rows = []
        for sql, params in world.row_queries:
            cursor.execute(sql, params)
            rows.append(cursor.fetchall())
        cursor.execute(world.count_query)
        return rows, cursor.fetchone()


def _state_queries(foreign: dict) -> tuple[list, str]:
    rows = [model._default_manager.filter(pk=obj.pk).values_list().query.sql_with_params()
            for model, obj in foreign.items()]
    tables = sorted({model._meta.db_table for model in apps.get_models()
                     if model._meta.managed and not model._meta.proxy and model._meta.label != "sessions.Session"})
    quote = connection.ops.quote_name
    counts = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables)
    return rows, counts


# What a POST carries: enough for any form here to go through if the view let it
# (delete's confirmation, a text and its key, an adjustment, the bulk send's confirmation).
POST_DATA = {"post": "yes", "confirm": "yes", "body": "isolation sweep", "send_key": str(uuid.uuid4()),
             "amount": "1", "reason": "isolation sweep", "step": "confirm", "next": "/admin/"}


def _url(case: Case, obj) -> str:
    if case.endpoint.name == VIEW_ON_SITE:
        return case.endpoint.path(content_type_id=ContentType.objects.get_for_model(obj).pk, object_id=obj.pk)
    (param,) = case.endpoint.params
    return case.endpoint.path(**{param: obj.pk})


def _is_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response["Location"]).path == reverse("admin:login")


def _answer(client: Client, method: str, url: str, endpoint: Endpoint):
    response = getattr(client, method)(url, POST_DATA) if method == "post" else client.get(url)
    if endpoint.is_redirect and response.status_code in (301, 302) and not _is_login(response):
        # The bare <id>/ URL redirects before looking anything up; the page it names must refuse.
        response = client.get(response["Location"])
    return response


def _refused(response) -> bool:
    return response.status_code in (403, 404, 405) or _is_login(response)


# --- the sweep -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [param for case in CASES for param in _params(case)])
def test_another_shops_object_is_out_of_reach(case: Case, world: World, client):
    if case.model not in world.foreign:
        pytest.fail(f"No builder for {case.model._meta.label}: its pages cannot be swept")
    foreign = world.foreign[case.model]
    url = _url(case, foreign)
    # The URL must reach the view it was made from, not the admin's catch-all 404.
    assert resolve(urlsplit(url).path).route == case.endpoint.route, url
    before = _database_state(world)

    for who in ("anonymous", "merchant of shop A"):
        if who != "anonymous":
            client.force_login(world.merchant_a)
        for method in ("get", "post"):
            response = _answer(client, method, url, case.endpoint)
            assert response.status_code < 500, f"{who} {method.upper()} {url}: {response.status_code}"
            assert _refused(response), (
                f"{who} {method.upper()} {url} with shop B's {case.model._meta.label} got "
                f"{response.status_code} {response.get('Location', '')}: expected 404/403/405 or the login page")
            if who != "anonymous" and not getattr(response, "streaming", False):
                assert world.marker not in response.content.decode(errors="replace"), f"{who} {method.upper()} {url}"
            if who != "anonymous" and method == "get" and response.status_code == 403 and case.model in world.own:
                # A 403 is fine only when the merchant's own row gets it too: else it says "this id exists".
                own = _answer(client, "get", _url(case, world.own[case.model]), case.endpoint)
                assert own.status_code == 403, f"GET {url}: 403 for shop B's row but {own.status_code} for shop A's"

    (rows_before, counts_before), (rows_after, counts_after) = before, _database_state(world)
    assert rows_after == rows_before, f"shop B's rows changed after the requests to {url}"
    assert counts_after == counts_before, f"rows were added or removed by the requests to {url}"


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES
                                  if _is_tenant_owned(case.model) and case.endpoint.name != VIEW_ON_SITE])
def test_the_same_page_opens_for_its_own_shop(case: Case, world: World, client):
    """The control: shop A's own row is not a 404 on the same URL, so the 404 above is the
    tenancy's doing, not a URL that works for nobody."""
    client.force_login(world.merchant_a)
    url = _url(case, world.own[case.model])
    response = _answer(client, "get", url, case.endpoint)
    assert response.status_code not in (404,) and response.status_code < 500, f"GET {url}: {response.status_code}"


# --- the sweep cannot pass vacuously ----------------------------------------------------------


def test_every_registered_admin_model_has_a_builder():
    missing = sorted(model._meta.label for model in admin.site._registry if model not in BUILDERS)
    assert not missing, (
        f"Admin models without a builder in {__name__}.BUILDERS: {missing}. Add one that makes a row of the "
        "given shop, so the isolation sweep covers their pages.")
    stale = sorted(model._meta.label for model in BUILDERS if model not in admin.site._registry)
    assert not stale, f"Builders for models no longer in the admin: {stale}"


def test_every_url_with_a_parameter_is_placed():
    assert not UNPLACED, (
        "URLs the isolation sweep does not know how to fill in:\n  " + "\n  ".join(UNPLACED)
        + f"\nTeach {__name__} (SITE_ENDPOINTS / NON_ADMIN_ENDPOINTS) what their parameters are.")


# Pages written by hand in this project (and Django's own odd ones): if the walker stops
# finding them, it is broken, whatever the count says.
REQUIRED = {
    ("admin:shop_order_send_sms", "shop.Order"),
    ("admin:shop_customer_send_sms", "shop.Customer"),
    ("admin:shop_customerimport_confirm", "shop.CustomerImport"),
    ("admin:shop_customerimport_change", "shop.CustomerImport"),
    ("admin:credits_purchase_receipt", "credits.Purchase"),
    ("admin:credits_purchase_confirm", "credits.Purchase"),
    ("admin:credits_purchase_cancel", "credits.Purchase"),
    ("admin:credits_creditaccount_adjust", "credits.CreditAccount"),
    ("admin:templates_sms_smstemplate_toggle", "templates_sms.SmsTemplate"),
    ("admin:templates_sms_smstemplate_reset", "templates_sms.SmsTemplate"),
    ("admin:smsnotify_smssettings_test_text", "smsnotify.SmsSettings"),
    ("admin:shop_order_change", "shop.Order"),
    ("admin:shop_order_delete", "shop.Order"),
    ("admin:shop_order_history", "shop.Order"),
    ("admin:auth_user_password_change", "auth.User"),
    (VIEW_ON_SITE, "shop.Customer"),
}
FLOOR = 120


def test_the_sweep_reaches_the_custom_pages():
    swept = {(case.endpoint.name, case.model._meta.label) for case in CASES}
    assert REQUIRED <= swept, f"not swept: {sorted(REQUIRED - swept)}"
    assert len(CASES) >= FLOOR, f"only {len(CASES)} (URL, model) pairs swept"
    # every model admin's change, history and delete pages, for every registered model
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert {(f"{info}_{view}", model._meta.label) for view in ("change", "history", "delete")} <= swept, model


# --- ids that travel in the query or the form, not in the path ------------------------------


def test_the_preview_refuses_another_shops_order_and_customer(world: World, client):
    client.force_login(world.merchant_a)
    url = reverse("admin:templates_sms_smstemplate_preview")
    response = client.post(url, {"body": "{shop_name}", "template": world.foreign[SmsTemplate].pk})
    assert response.status_code == 404
    own = client.post(url, {"body": "{shop_name}", "template": world.own[SmsTemplate].pk})
    assert own.status_code == 200 and "Isolation shop A" in own.json()["text"]
    # The send pages' preview is per recipient: another shop's order or customer is not found.
    for name, model in (("admin:shop_order_send_sms_preview", Order), ("admin:shop_customer_send_sms_preview", Customer)):
        response = client.post(reverse(name, args=[world.foreign[model].pk]), {"body": "{shop_name}"})
        assert response.status_code == 404, name
        own = client.post(reverse(name, args=[world.own[model].pk]), {"body": "{shop_name}"})
        assert own.status_code == 200 and "Isolation shop A" in own.json()["text"], name


def test_the_sms_report_is_the_merchants_own_shops_whatever_the_query_says(world: World, client):
    """The report's shop travels in the query for the operator only: a merchant's ``shop=`` of
    another shop is ignored, and the file holds only their own shop's texts."""
    client.force_login(world.merchant_a)
    foreign = world.foreign[Message]
    own_shop = world.own[Message].shop
    day = timezone.localdate(foreign.send_at, own_shop.zone)
    own = report_messages(shop=own_shop, start=day, end=day).count()
    assert report_messages(shop=foreign.shop, start=day, end=day).exists()  # what a leak would add
    response = client.get(reverse("admin:smsnotify_message_report"), {
        "start": day.isoformat(), "end": day.isoformat(), "format": "csv", "shop": foreign.shop_id})
    assert response.status_code == 200 and response.streaming
    assert len(b"".join(response.streaming_content).decode().splitlines()) == 1 + own


@pytest.mark.parametrize("model,field", [(Order, "customer"), (Cart, "converted_order"), (Ticket, "order")])
def test_autocomplete_offers_only_the_shops_own_rows(world: World, client, model, field):
    client.force_login(world.merchant_a)
    target = model._meta.get_field(field).related_model
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": model._meta.app_label, "model_name": model._meta.model_name, "field_name": field, "term": ""})
    assert response.status_code == 200
    offered = {int(row["id"]) for row in response.json()["results"]}
    assert world.own[target].pk in offered
    assert world.foreign[target].pk not in offered


def test_the_campaign_revenue_page_shows_only_the_shops_own(world: World, client):
    """The report takes no id, only a period: what it sums must be the merchant's shop's alone."""
    client.force_login(world.merchant_a)
    today = timezone.localdate()
    url = reverse("admin:campaigns_orderattribution_changelist")
    response = client.get(url, {"first": (today - dt.timedelta(days=1)).isoformat(), "last": today.isoformat(),
                                "shop": world.foreign[Shop].pk})  # a merchant has no shop field: ignored
    assert response.status_code == 200
    report = response.context["revenue"]
    assert report.shop == world.own[Shop]
    own = world.own[OrderAttribution]
    assert report.total.orders == 1 and report.total.revenue == own.order.total
    assert world.marker not in response.content.decode()


# --- pages without an id: the dashboard and the statistics count one shop's rows ---------------------


def test_the_dashboard_and_the_statistics_count_only_the_shops_own_rows(world: World, client):
    shop_a, shop_b = world.own[Shop], world.foreign[Shop]
    MessageFactory(shop=shop_b, kind="bulk", status="failed", error_code="29999", error_text="Shop B's failure",
                   credits_charged=98765)
    MessageFactory(shop=shop_b, kind="bulk", status="unknown", credits_charged=87654)
    MessageFactory(shop=shop_b, direction="in", kind="inbound", body="B's reply")
    OptOut.objects.create(shop=shop_b, phone="+12025550188")
    own = MessageFactory(shop=shop_a, kind="manual", status="delivered", credits_charged=3)
    client.force_login(world.merchant_a)
    pages = [client.get(reverse("admin:index")), client.get(reverse("admin:statistics")),
             client.get(reverse("admin:statistics"), {"shop": shop_b.pk, "period": "month"})]
    for response in pages:
        assert response.status_code == 200
        page = response.content.decode()
        assert world.marker not in page
        for leak in ("29999", "Shop B&#x27;s failure", "98,765", "87,654", "186,419"):
            assert leak not in page, leak
    statistics = pages[1].content.decode()
    credits = re.search(r'<script id="data-credits" type="application/json">(.*?)</script>', statistics, re.S)
    assert sum(json.loads(credits.group(1))["datasets"][0]["data"]) == sum(
        Message.objects.filter(shop=shop_a).values_list("credits_charged", flat=True)) >= own.credits_charged
    assert "unknown outcome" not in pages[0].content.decode()  # B's unknown text is not A's attention
