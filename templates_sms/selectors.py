"""Reads of SMS templates: a shop's templates, the one an event sends, the editor's preview."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _, ngettext

from credits.estimate import sms_estimate
from shop.models import Shop
from smsnotify.encoding import SegmentInfo, segment_info
from smsnotify.phones import InvalidPhoneNumber, to_e164
from smsnotify.selectors import sms_settings_for

from . import rendering
from .models import SmsTemplate
from .tokens import EVENTS, RenderContext, Token, tokens_for

def active_template(*, shop: Shop, event: str, audience: str) -> SmsTemplate | None:
    """The template an automatic event sends, or None when the merchant switched it off."""
    return (SmsTemplate.objects.filter(shop=shop, event=event, audience=audience, active=True)
            .order_by("-is_standard", "position", "pk").first())


def _e164_or_none(phone, *, region: str) -> str | None:
    """The one recipient a preview is for; None (the shop's own country) when it has no valid number."""
    try:
        return to_e164(phone, region=region)
    except InvalidPhoneNumber:
        return None


@dataclass(frozen=True)
class Preview:
    """What the editor shows beside the text box; the browser only displays it."""

    text: str                         # rendered with sample data, as it would be sent
    info: SegmentInfo
    transliterated: bool              # the shop replaces special characters
    replaced_characters: tuple[str, ...]  # what the replacement changed (for the note)
    longest_segments: int
    max_segments: int
    cost: int
    errors: tuple[str, ...]
    tokens: dict[str, Token]

    @property
    def counter(self) -> str:
        return ngettext(
            "%(segments)d SMS, %(left)d character left in this part",
            "%(segments)d SMS, %(left)d characters left in this part",
            self.info.units_left,
        ) % {"segments": self.info.segments, "left": self.info.units_left}

    @property
    def warning(self) -> str:
        if not self.info.non_gsm_chars:
            return ""
        single = self.info.segments == 1
        return _("Message contains special characters: %(chars)s — each part holds %(ucs)d characters "
                 "instead of %(gsm)d") % {
            "chars": ", ".join(self.info.non_gsm_chars), "ucs": 70 if single else 67, "gsm": 160 if single else 153}

    @property
    def cost_text(self) -> str:
        return ngettext("%(cost)d credit", "%(cost)d credits", self.cost) % {"cost": self.cost}

    @property
    def longest_text(self) -> str:
        return _("With long names and addresses: up to %(longest)d SMS (your limit: %(max)d).") % {
            "longest": self.longest_segments, "max": self.max_segments}

    @property
    def cost_line(self) -> str:
        return _("Cost: %(cost)s per message") % {"cost": self.cost_text}

    def as_json(self) -> dict:
        return {
            "text": self.text,
            "encoding": self.info.encoding,
            "segments": self.info.segments,
            "characters_left": self.info.units_left,
            "counter": self.counter,
            "special_characters": list(self.info.non_gsm_chars),
            "warning": self.warning,
            "transliterated": self.transliterated,
            "replaced_characters": list(self.replaced_characters),
            "longest_segments": self.longest_segments,
            "max_segments": self.max_segments,
            "longest_text": self.longest_text,
            "too_long": self.longest_segments > self.max_segments,
            "cost": self.cost,
            "cost_text": self.cost_text,
            "cost_line": self.cost_line,
            "errors": list(self.errors),
        }


def template_preview(*, shop: Shop, event: str, body: str, context: RenderContext | None = None) -> Preview:
    """The body rendered with sample data (or for ``context``: one real recipient), counted
    exactly as the outbox will count it."""
    sms = sms_settings_for(shop)
    recipient = None
    if context is not None:
        text = rendering.render(body, context, event=event).strip()
        phone = context.order.phone if context.order is not None else getattr(context.customer, "phone", "")
        recipient = _e164_or_none(phone, region=shop.country)
    else:
        text = rendering.render_sample(body, event=event, shop=shop)
    replaced = segment_info(text).non_gsm_chars if sms.replace_special_characters else ()
    estimate = sms_estimate(shop=shop, text=text, recipient=recipient, sms_settings=sms)
    errors = tuple(message for error in rendering.token_errors(body, event=event) for message in error.messages)
    return Preview(
        text=estimate.text, info=estimate.info, transliterated=sms.replace_special_characters,
        replaced_characters=replaced, longest_segments=rendering.longest_segments(body, event=event, shop=shop),
        max_segments=sms.max_segments, cost=estimate.credits, errors=errors, tokens=tokens_for(event),
    )


def editor_context(*, shop: Shop | None, event: str, body: str, context: RenderContext | None = None) -> dict:
    """What the editor panel (tokens, preview, counter, cost) shows for ``body``; with
    ``context`` the preview is the text that one real recipient will get."""
    return {
        "preview_url": reverse("admin:templates_sms_smstemplate_preview"),
        "event": EVENTS[event],
        "tokens": [{"display": "{" + name + "}", "name": name, "description": token.description,
                    "sample": token.sample(shop) if shop else ""} for name, token in tokens_for(event).items()],
        "preview": template_preview(shop=shop, event=event, body=body, context=context) if shop else None,
        "for_order": context.order.pk if context is not None and context.order is not None else "",
        "for_customer": context.customer.pk if context is not None and context.customer is not None else "",
    }
