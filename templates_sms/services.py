"""Writes of SMS templates: seeding the standard set, editing, switching on and off, resetting."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from shop.models import Shop

from .defaults import STANDARD_TEMPLATES, position, standard_template
from .models import SmsTemplate
from .tokens import CUSTOM, Audience


def templates_seed_standard(*, shop: Shop) -> int:
    """Give ``shop`` every standard template it lacks, in its language. Returns how many were made.

    Idempotent: existing templates (edited or not) are left alone, and a concurrent seed of
    the same shop is absorbed by the unique (shop, event, audience) constraint.
    """
    existing = set(SmsTemplate.objects.filter(shop=shop, is_standard=True).values_list("event", "audience"))
    now = timezone.now()
    with translation.override(shop.language):
        missing = [
            SmsTemplate(
                shop=shop, event=spec.event, audience=spec.audience, name=spec.display_name(), body=str(spec.body),
                active=spec.active, is_standard=True, position=position(*spec.key), updated_at=now,
            )
            for spec in STANDARD_TEMPLATES if spec.key not in existing
        ]
    SmsTemplate.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def _save(template: SmsTemplate, fields: list[str]) -> SmsTemplate:
    template.updated_at = timezone.now()
    template.full_clean()
    template.save(update_fields=[*fields, "updated_at"])
    return template


@transaction.atomic
def template_create(*, shop: Shop, name: str, body: str, active: bool = True) -> SmsTemplate:
    """A merchant's own template: for the customer, sent by hand only (event "custom")."""
    template = SmsTemplate(shop=shop, event=CUSTOM, audience=Audience.CUSTOMER, name=name, body=body,
                           active=active, is_standard=False, updated_at=timezone.now())
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def template_update(*, template: SmsTemplate, name: str | None = None, body: str | None = None,
                    active: bool | None = None) -> SmsTemplate:
    """Edit a template. Raises ValidationError naming any unknown token, or a text that could
    exceed the shop's limit of SMS parts; nothing is saved then."""
    fields = []
    for field, value in (("name", name), ("body", body), ("active", active)):
        if value is not None and getattr(template, field) != value:
            setattr(template, field, value)
            fields.append(field)
    if not fields:
        return template
    return _save(template, fields)


@transaction.atomic
def template_toggle(*, template: SmsTemplate) -> SmsTemplate:
    """The eye: switch a template on or off. Flipped in the database, so two quick clicks
    (or two tabs) never both read the same state and cancel each other out."""
    locked = SmsTemplate.objects.select_for_update().get(pk=template.pk)
    locked.active = not locked.active
    locked.updated_at = timezone.now()
    locked.save(update_fields=["active", "updated_at"])
    template.active, template.updated_at = locked.active, locked.updated_at
    return template


@transaction.atomic
def template_reset(*, template: SmsTemplate) -> SmsTemplate:
    """Put a standard template's default text back, in the shop's language. Its name and
    its on/off state stay as the merchant set them."""
    spec = standard_template(template.event, template.audience) if template.is_standard else None
    if spec is None:
        raise ValidationError(_("Only standard templates have a default text."), code="not_standard")
    with translation.override(template.shop.language):
        template.body = str(spec.body)
    template.updated_at = timezone.now()
    # The default is trusted even where the shop's limit of parts is lower than it needs.
    template.save(update_fields=["body", "updated_at"])
    return template
