"""The back-in-stock texts: when a product can be ordered again, each number waiting for it
gets one text, and its sign-up is marked sent in the same transaction.

Runs inside ``shop.services.product_stock_set``'s transaction (the receiver of
``product_back_in_stock``). A popular product can have thousands waiting, so the work is
set-based, a chunk at a time: one query reads the chunk, each text is rendered (a name token
makes each one personal), one batch write puts them all in the outbox with their history
(``messages_schedule_many``; beat's dispatch hands them to the workers) and one UPDATE marks the
chunk sent. The dedupe key is the
sign-up's id: an event delivered twice texts nobody twice, and a number that signs up again
after its text gets the next one.

A sign-up stays *waiting* when nothing reached the outbox for it (the template is switched
off, SMS is off for the shop, the text rendered empty): the next time the product comes back
it is tried again. Whether a written text may go out (marketing consent, STOP, quiet hours) is
for the delivery policies to decide at sending time, as for every marketing text.
"""

from __future__ import annotations

from shop.models import BackInStockSubscription, Product, SubscriptionStatus
from shop.services import back_in_stock_subscriptions_mark_sent
from smsnotify.models import Kind, Lane, Message
from smsnotify.outbox import PreparedMessage, messages_ring, messages_schedule_many
from smsnotify.selectors import sms_settings_for
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import PRODUCT_BACK_IN_STOCK, Audience, RenderContext

CHUNK = 500


def back_in_stock_dedupe_key(subscription_id: int) -> str:
    return f"stock:subscription:{subscription_id}"


def back_in_stock_texts_schedule(*, product: Product) -> int:
    """Text everyone waiting for ``product`` once; returns how many sign-ups were marked sent."""
    shop = product.shop
    template = active_template(shop=shop, event=PRODUCT_BACK_IN_STOCK, audience=Audience.CUSTOMER)
    if template is None or not sms_settings_for(shop).active:
        return 0  # the merchant switched the text (or SMS) off: they keep waiting for the next time
    waiting = (BackInStockSubscription.objects
               .filter(shop_id=shop.pk, product_id=product.pk, status=SubscriptionStatus.WAITING)
               .select_related("customer").order_by("pk"))
    marked, after = 0, 0
    while chunk := list(waiting.filter(pk__gt=after)[:CHUNK]):
        after = chunk[-1].pk
        rows = [
            PreparedMessage(to=subscription.phone, dedupe_key=back_in_stock_dedupe_key(subscription.pk),
                            # stripped: a token with no value at the end must not cost a character
                            body=render(template.body, RenderContext(shop=shop, product=product,
                                                                     customer=subscription.customer),
                                        event=PRODUCT_BACK_IN_STOCK).strip(),
                            customer_id=subscription.customer_id, product_id=product.pk)
            for subscription in chunk
        ]
        written = messages_schedule_many(shop=shop, kind=Kind.BACK_IN_STOCK, rows=rows)
        messages_ring(message_ids=list(written.values()), lane=Lane.MARKETING)  # paced: dispatch releases them
        # Texted now, or earlier under the same key (an event delivered twice); an invalid number or
        # an empty text is not, and keeps waiting.
        taken = set(written) | set(Message.objects.filter(shop=shop, dedupe_key__in=[r.dedupe_key for r in rows])
                              .values_list("dedupe_key", flat=True))
        texted = [s.pk for s in chunk if back_in_stock_dedupe_key(s.pk) in taken]
        marked += back_in_stock_subscriptions_mark_sent(subscription_ids=texted)
    return marked
