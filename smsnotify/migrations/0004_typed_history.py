# Typed message history (type, parameters, user) and the delivery claim token.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def keep_old_details(apps, schema_editor):
    """Events written before they were typed keep their text as a note."""
    MessageEvent = apps.get_model("smsnotify", "MessageEvent")
    for event in MessageEvent.objects.exclude(detail="").iterator():
        event.parameters = {"detail": event.detail}
        event.save(update_fields=["parameters"])


class Migration(migrations.Migration):

    dependencies = [
        ('smsnotify', '0003_smssettings_replace_special_characters_max_segments'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='claim',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='messageevent',
            name='parameters',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='messageevent',
            name='type',
            field=models.CharField(choices=[('scheduled', 'Scheduled'), ('attempt', 'Handed to the gateway'), ('accepted', 'Accepted by the provider'), ('refused', 'Refused by the provider'), ('retry', 'Temporary failure'), ('gave_up', 'Gave up'), ('ambiguous', 'Outcome unknown'), ('lease_expired', 'Worker stopped'), ('found', 'Found at the provider'), ('not_found', 'Not found at the provider'), ('report', 'Delivery report'), ('expired', 'Expired'), ('cancelled', 'Cancelled'), ('send_again', 'Sent again'), ('held', 'Held'), ('stopped', 'Stopped'), ('note', 'Note')], default='note', max_length=16),
        ),
        migrations.AddField(
            model_name='messageevent',
            name='user',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(keep_old_details, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='messageevent',
            name='detail',
        ),
    ]
