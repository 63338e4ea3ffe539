"""Give every shop that existed before templates the standard set.

Without it, a deployed shop would stop texting "shipped" the moment the trigger starts
reading templates. Uses the historical model and skips what exists, like
services.templates_seed_standard (which new shops get from shop_create).
"""

from django.db import migrations
from django.utils import timezone, translation


def seed_existing_shops(apps, schema_editor):
    from templates_sms.defaults import STANDARD_TEMPLATES, position

    Shop = apps.get_model("shop", "Shop")
    SmsTemplate = apps.get_model("templates_sms", "SmsTemplate")
    now = timezone.now()
    for shop in Shop.objects.all().iterator():
        existing = set(SmsTemplate.objects.filter(shop=shop, is_standard=True).values_list("event", "audience"))
        with translation.override(shop.language):
            missing = [
                SmsTemplate(shop=shop, event=spec.event, audience=spec.audience, name=spec.display_name(),
                            body=str(spec.body), active=spec.active, is_standard=True,
                            position=position(*spec.key), updated_at=now)
                for spec in STANDARD_TEMPLATES if spec.key not in existing
            ]
        SmsTemplate.objects.bulk_create(missing, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("templates_sms", "0001_initial"),
        ("shop", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed_existing_shops, migrations.RunPython.noop)]
