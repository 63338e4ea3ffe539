"""Campaigns' delivery policies: the checks made at the moment a text would leave.

They run in the order of ``SMS_DELIVERY_POLICIES``, each with one query per batch: a STOP
stops everything; an order status text must still be current; a marketing text needs consent,
waits for the allowed hours and keeps to the frequency cap. Because they run at sending time, a
text written before the customer opted out, or before the hours ended, is still stopped.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.models import Customer, MarketingConsent, Order
from smsnotify.models import MARKETING_KINDS, Kind, Message, Status
from smsnotify.policies import DeliveryPolicy, Hold, Refuse

from .keywords import opt_out_record
from .models import CapAction, MarketingSettings, OptOut
from .quiet_hours import next_allowed_moment, recipient_zone
from .selectors import status_of_dedupe_key
from .service_texts import STATUS_CHANGED


def _marketing(batch) -> list[Message]:
    return [m for m in batch.messages if m.kind in MARKETING_KINDS]


def _settings_by_shop(messages: list[Message]) -> dict[int, MarketingSettings]:
    shop_ids = {m.shop_id for m in messages}
    found = {s.shop_id: s for s in MarketingSettings.objects.filter(shop_id__in=shop_ids)}
    return {pk: found.get(pk) or MarketingSettings(shop_id=pk) for pk in shop_ids}


class OptedOut(DeliveryPolicy):
    """A number that replied STOP gets nothing more from the shop, of any kind, until START; only
    the replies to its keywords (the opt-out's confirmation) still reach it."""

    reasons = {"opted_out": _("Not sent: this number opted out (it replied STOP). It gets texts again only "
                              "after it replies START.")}

    def before_send(self, batch):
        outbound = [m for m in batch.messages if m.kind != Kind.KEYWORD_REPLY]
        if not outbound:
            return {}
        stopped = set(OptOut.objects.filter(shop_id__in={m.shop_id for m in outbound},
                                            phone__in={m.recipient for m in outbound})
                      .values_list("shop_id", "phone"))
        return {m.pk: Refuse(status=Status.SUPPRESSED, code="opted_out")
                for m in outbound if (m.shop_id, m.recipient) in stopped}

    def settle(self, outcomes):
        # The provider refused a text because the number opted out with it (a STOP sent to the
        # sender before this shop knew): the shop's list learns it, so nothing more is tried.
        for outcome in outcomes:
            if outcome.opted_out:
                opt_out_record(shop=outcome.message.shop, number=outcome.message.recipient,
                               source=OptOut.Source.PROVIDER)


class OrderStatusStillCurrent(DeliveryPolicy):
    """A status text leaves only while its order is still in the status it announces (see
    service_texts.py): a delayed "shipped" text does not go to an order cancelled meanwhile."""

    reasons = {STATUS_CHANGED: _("Not sent: the order moved to another status before it was due.")}

    def before_send(self, batch):
        texts = [m for m in batch.messages if m.kind == Kind.ORDER_STATUS and m.order_id and m.dedupe_key]
        if not texts:
            return {}
        current = dict(Order.objects.filter(pk__in={m.order_id for m in texts}).values_list("pk", "status"))
        return {
            m.pk: Refuse(status=Status.CANCELLED, code=STATUS_CHANGED, params={"status": current[m.order_id]})
            for m in texts
            if m.order_id in current and status_of_dedupe_key(m.dedupe_key) != current[m.order_id]
        }


class MarketingConsentRequired(DeliveryPolicy):
    """A marketing text goes only to a customer whose consent is on record: the message's own
    customer, or (a number without one) a customer of the shop with that number, as long as no
    customer with that number revoked it."""

    reasons = {"no_consent": _("Not sent: a marketing text needs the customer's consent, and there is none on "
                               "record (or it was withdrawn).")}

    def before_send(self, batch):
        marketing = _marketing(batch)
        if not marketing:
            return {}
        rows = Customer.objects.filter(
            Q(pk__in={m.customer_id for m in marketing if m.customer_id})
            | Q(shop_id__in={m.shop_id for m in marketing}, phone__in={m.recipient for m in marketing}),
        ).values_list("pk", "shop_id", "phone", "marketing_consent")
        by_id, by_number = {}, defaultdict(set)
        for pk, shop_id, phone, consent in rows:
            by_id[pk] = consent
            by_number[(shop_id, str(phone))].add(consent)
        verdicts = {}
        for m in marketing:
            if m.customer_id:
                granted = by_id.get(m.customer_id) == MarketingConsent.GRANTED
            else:
                consents = by_number.get((m.shop_id, m.recipient), set())
                granted = MarketingConsent.GRANTED in consents and MarketingConsent.REVOKED not in consents
            if not granted:
                verdicts[m.pk] = Refuse(status=Status.SUPPRESSED, code="no_consent")
        return verdicts


class QuietHours(DeliveryPolicy):
    """A marketing text leaves only within the shop's hours in the recipient's local time; one
    due outside them waits for the next allowed moment (never dropped). A request for marketing
    consent keeps the same hours: asking is itself a marketing text."""

    reasons = {"outside_hours": _("outside the hours marketing texts may arrive.")}

    def before_send(self, batch):
        marketing = [m for m in batch.messages if m.kind in MARKETING_KINDS or m.kind == Kind.CONSENT_REQUEST]
        if not marketing:
            return {}
        rules = _settings_by_shop(marketing)
        now = timezone.now()
        verdicts = {}
        for m in marketing:
            rule = rules[m.shop_id]
            until = next_allowed_moment(now, zone=recipient_zone(m.recipient, m.shop.time_zone),
                                        send_from=rule.send_from, send_until=rule.send_until,
                                        no_sundays=rule.no_sundays)
            if until is not None:
                verdicts[m.pk] = Hold(until=until, code="outside_hours")
        return verdicts


class FrequencyCap(DeliveryPolicy):
    """At most N marketing texts per customer (number) within H hours, per shop: one more is
    postponed until the oldest of those leaves the window, or not sent, as the merchant chose.
    (Two deliveries running at the very same moment may each let one through.)"""

    reasons = {
        "frequency_cap": _("the customer already got as many marketing texts as the shop allows in this time."),
        "frequency_cap_drop": _("Not sent: the customer already got as many marketing texts as the shop allows "
                                "in this time."),
    }

    def before_send(self, batch):
        marketing = _marketing(batch)
        if not marketing:
            return {}
        rules = _settings_by_shop(marketing)
        now = timezone.now()
        longest = max(rule.cap_hours for rule in rules.values())
        sent = defaultdict(list)
        for shop_id, recipient, sent_at in Message.objects.filter(
            shop_id__in=rules, recipient__in={m.recipient for m in marketing}, kind__in=MARKETING_KINDS,
            sent_at__gte=now - dt.timedelta(hours=longest),
        ).values_list("shop_id", "recipient", "sent_at"):
            sent[(shop_id, recipient)].append(sent_at)
        verdicts = {}
        for m in sorted(marketing, key=lambda m: (m.send_at, m.pk)):
            rule = rules[m.shop_id]
            window = dt.timedelta(hours=rule.cap_hours)
            recent = sorted(at for at in sent[(m.shop_id, m.recipient)] if at > now - window)
            if len(recent) < rule.cap_count:
                sent[(m.shop_id, m.recipient)].append(now)  # this one leaves now: it counts for the next
            elif rule.cap_action == CapAction.DROP:
                verdicts[m.pk] = Refuse(status=Status.SUPPRESSED, code="frequency_cap_drop")
            else:
                verdicts[m.pk] = Hold(until=recent[-rule.cap_count] + window, code="frequency_cap")
        return verdicts
