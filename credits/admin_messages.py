"""A message's page with what the ledger took for it and gave back.

smsnotify's MessageAdmin sits below credits and cannot read the ledger (tests/test_layers.py), so
credits registers the Message admin again with this one field more, as campaigns does for the
store's Order and Customer admins. ``credits_charged`` alone reads 0 on a failed text that was
charged and then refunded; the ledger says both.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext, gettext_lazy as _

from shop.money import format_number
from smsnotify import history
from smsnotify.admin import MessageAdmin
from smsnotify.models import Message

from .selectors import message_credits


def credits_words(message: Message) -> str:
    """"12 charged, 12 refunded", in the active language."""
    ledger = message_credits(message=message)
    if not ledger.charged and not ledger.refunded:
        return format_number(message.credits_charged)
    values = {"charged": format_number(ledger.charged), "refunded": format_number(ledger.refunded)}
    if not ledger.refunded:
        return gettext("%(charged)s charged") % values
    return gettext("%(charged)s charged, %(refunded)s refunded") % values


class MessageWithCreditsAdmin(MessageAdmin):
    fieldsets = [(name, {**options, "fields": ["credits_ledger" if field == "credits_charged" else field
                                               for field in options["fields"]]})
                 for name, options in MessageAdmin.fieldsets]
    readonly_fields = [*MessageAdmin.readonly_fields, "credits_ledger"]

    @admin.display(description=_("credits"))
    def credits_ledger(self, obj):
        return history.in_shop_terms(obj.shop, credits_words, obj)


admin.site.unregister(Message)
admin.site.register(Message, MessageWithCreditsAdmin)
