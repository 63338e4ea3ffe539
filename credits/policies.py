"""Credits' delivery policy: a message is paid for before the gateway, and given back when the
provider did not bill it (a refusal, a temporary failure that will be retried and charged
again, a report of failure)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from smsnotify.models import Status
from smsnotify.policies import DeliveryPolicy, Outcome, Refuse

from .ledger import messages_charge, messages_refund


class ChargeCredits(DeliveryPolicy):
    reasons = {
        "insufficient_credits": _("Not sent: the credit balance could not pay for it. Buy credits, then send it again."),
    }

    def before_send(self, batch):
        unpaid = messages_charge(messages=batch.messages)
        return {pk: Refuse(status=Status.FAILED, code="insufficient_credits") for pk in unpaid}

    def settle(self, outcomes: list[Outcome]) -> None:
        by_reason: dict[str, list] = {}
        for outcome in outcomes:
            if not outcome.billed:
                by_reason.setdefault(outcome.summary, []).append(outcome.message)
        for summary, messages in by_reason.items():
            messages_refund(messages=messages, reason=summary)
