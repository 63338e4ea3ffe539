"""templates_sms/services.py: writing a template."""

import pytest

from templates_sms import services
from templates_sms.models import SmsTemplate

pytestmark = pytest.mark.django_db


def test_template_update_refuses_unknown_tokens_and_keeps_the_old_text(shop):
    from django.core.exceptions import ValidationError

    template = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    before = template.body
    with pytest.raises(ValidationError) as caught:
        services.template_update(template=template, body="{order.customer.user.password}")
    assert "{order.customer.user.password}" in caught.value.message_dict["body"][0]
    assert SmsTemplate.objects.get(pk=template.pk).body == before
