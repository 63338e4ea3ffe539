"""The date campaigns' delivery policy: a text leaves only while its campaign is still on."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from smsnotify.models import Kind, Status
from smsnotify.policies import DeliveryPolicy, Refuse

from .date_campaigns import campaign_of_dedupe_key
from .models import DateCampaign

CAMPAIGN_OFF = "campaign_off"


class DateCampaignStillOn(DeliveryPolicy):
    """A merchant who switches a campaign off (or deletes it) expects nobody to get its text
    any more, also a text written before and held since (quiet hours, say)."""

    reasons = {CAMPAIGN_OFF: _("Not sent: its date campaign was switched off or deleted.")}

    def before_send(self, batch):
        texts = {m.pk: campaign_of_dedupe_key(m.dedupe_key) for m in batch.messages if m.kind == Kind.DATE_CAMPAIGN}
        texts = {pk: campaign for pk, campaign in texts.items() if campaign is not None}
        if not texts:
            return {}
        on = set(DateCampaign.objects.filter(pk__in=set(texts.values()), active=True).values_list("pk", flat=True))
        return {pk: Refuse(status=Status.CANCELLED, code=CAMPAIGN_OFF)
                for pk, campaign in texts.items() if campaign not in on}
