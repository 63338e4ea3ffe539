"""Reads of credits: balances, what a shop can afford, its history and purchases."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from shop.models import Shop
from smsnotify.selectors import sms_settings_for

from .models import CreditAccount, CreditPack, EntryKind, LedgerEntry
from .pricing import domestic_segment_cost


def credit_balance(shop: Shop) -> int:
    balance = CreditAccount.objects.filter(shop=shop).values_list("balance", flat=True).first()
    return balance or 0


def cheapest_sms_cost(shop: Shop) -> int:
    """Credits for one segment to a number in the shop's own country."""
    return domestic_segment_cost(shop)


@dataclass(frozen=True)
class SendBlock:
    """Why a shop cannot send an SMS now. ``buy_credits``: buying credits is the way out, so a
    page shows a link to the purchase page beside the reason."""

    reason: str
    buy_credits: bool = False

    def __str__(self) -> str:
        return _("%(reason)s Buy credits.") % {"reason": self.reason} if self.buy_credits else self.reason


def send_block(shop: Shop) -> SendBlock | None:
    """None when the shop can send an SMS now; else why not, in words for the merchant."""
    if not sms_settings_for(shop).active:
        return SendBlock(_("SMS is switched off for this shop. Switch it on in SMS settings."))
    balance, cost = credit_balance(shop), cheapest_sms_cost(shop)
    if balance < cost:
        return SendBlock(_("Not enough credits: balance %(balance)s, one SMS costs %(cost)s.") % {
            "balance": balance, "cost": cost}, buy_credits=True)
    return None



def packs_for_shop(shop: Shop) -> list[CreditPack]:
    """Active packs priced in the shop's currency, smallest first."""
    return [pack for pack in CreditPack.objects.filter(active=True) if pack.price_in(shop.currency) is not None]


@dataclass(frozen=True)
class MessageCredits:
    """What the ledger took for one message and gave back, over all its charge cycles (a text
    retried after a transient failure is charged again, each cycle refunded at most once)."""

    charged: int
    refunded: int


def message_credits(*, message) -> MessageCredits:
    """One query over the (message, kind, cycle) index. A charge paid from a bulk send's held
    credits is a row of 0 (the hold took the credits): its cost is its cycle's refund, or, while
    the cycle is open, what the message says it was charged."""
    charges: dict[int, int] = {}
    refunds: dict[int, int] = {}
    for kind, cycle, amount in LedgerEntry.objects.filter(
            message_id=message.pk, kind__in=(EntryKind.CHARGE, EntryKind.REFUND)).values_list("kind", "cycle", "amount"):
        (charges if kind == EntryKind.CHARGE else refunds)[cycle] = abs(amount)
    charged = sum(amount or refunds.get(cycle, message.credits_charged) for cycle, amount in charges.items())
    return MessageCredits(charged=charged, refunded=sum(refunds.values()))
