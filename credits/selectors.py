"""Reads of credits: balances, what a shop can afford, its history and purchases."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from shop.models import Shop
from smsnotify.selectors import sms_settings_for

from .models import CreditAccount, CreditPack
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
