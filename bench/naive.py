"""The naive approach the outbox is measured against: one Celery task per message that loads
the row, builds a gateway client, sends and saves, as most public Django code does. No claim,
no charge, no history: a worker that dies mid-send, or a task delivered twice, sends twice."""

from celery import shared_task
from django.utils import timezone

from smsnotify.gateways import OutboundSms, get_gateway
from smsnotify.models import Message, SmsSettings, Status


@shared_task(name="bench.naive_send", acks_late=False)  # Celery's defaults, as such code has them
def naive_send(message_id: int) -> None:
    message = Message.objects.get(pk=message_id)
    sender = SmsSettings.objects.get(shop_id=message.shop_id).sender
    result = get_gateway().send(OutboundSms(reference=f"msg-{message.pk}", to=message.recipient, body=message.body,
                                            sender=sender))
    message.status, message.provider_id, message.sent_at = Status.SENT, result.provider_id, timezone.now()
    message.save(update_fields=["status", "provider_id", "sent_at", "updated_at"])
