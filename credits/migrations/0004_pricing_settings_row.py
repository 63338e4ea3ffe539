"""The platform's pricing is a singleton row: written here, so reading it never writes."""

from django.conf import settings
from django.db import migrations


def create_row(apps, schema_editor):
    PricingSettings = apps.get_model("credits", "PricingSettings")
    PricingSettings.objects.get_or_create(pk=1, defaults={
        "credits_per_segment_domestic": settings.SMS_CREDITS_PER_SEGMENT_DOMESTIC,
        "credits_per_segment_international": settings.SMS_CREDITS_PER_SEGMENT_INTERNATIONAL,
        "minimum_purchase_credits": settings.CREDITS_MINIMUM_PURCHASE,
    })


class Migration(migrations.Migration):
    dependencies = [("credits", "0003_ledger_indexes")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
