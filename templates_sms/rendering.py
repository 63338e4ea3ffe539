"""Rendering merchant text: one regex pass over a whitelist of tokens, never a template engine.

Merchant-written text is data, never code. A template engine (or Python's string
formatting) would let ``{order.customer.user.password}`` walk object attributes; here a
token is a plain name looked up in the registry (tokens.py), whose resolver decides what
may be read. ``re.sub`` scans the template once, so a substituted value is never scanned
again: a customer called "{shop_name}" is texted as exactly that.

Both ``{token}`` (SMSAPI, Shoper) and ``[[token]]`` (SEOshop) are accepted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from contextlib import nullcontext

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _, ngettext

from shop.models import Shop
from credits.estimate import sms_estimate
from smsnotify.selectors import sms_settings_for

from .tokens import EVENTS, TOKENS, RenderContext, Token, tokens_for

# Anything that looks like an attempt at a token: a name starting with a letter or "_",
# with no spaces, in {…} or [[…]]. Template-engine syntax ({{ x }}, {% if %}) is caught too,
# so that it can be refused with a useful message instead of reaching a customer as is.
TOKEN_RE = re.compile(
    r"(?P<engine>\{\{[^{}]*\}\}|\{%[^{}]*%\})"
    r"|\{(?P<brace>[^\W\d][^\s{}]*)\}"
    r"|\[\[(?P<bracket>[^\W\d][^\s\[\]]*)\]\]"
)
_SHOWN_NAME_MAX = 40  # a long garbage "token" is cut in error messages


def _token_name(match: re.Match) -> str | None:
    return match.group("brace") or match.group("bracket")


def _as_text(value: object) -> str:
    """Missing data is empty text, never "None"."""
    if value is None:
        return ""
    return str(value).strip()


def _substitute(body: str, value_of: Callable[[Token], str], allowed: dict[str, Token]) -> str:
    cache: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        name = _token_name(match)
        token = allowed.get(name) if name else None
        if token is None:  # not a token of this event: left as written (validation refuses it on save)
            return match.group(0)
        if name not in cache:
            cache[name] = value_of(token)
        return cache[name]

    return TOKEN_RE.sub(replace, body)


def render(body: str, context: RenderContext, *, event: str) -> str:
    """The text of one message: every token of ``event`` replaced by its value for ``context``."""
    language = context.shop.language
    # A bulk send renders 100,000 texts in the shop's language: switching to it once is enough.
    with nullcontext() if translation.get_language() == language else translation.override(language):
        return _substitute(body, lambda token: _not_an_address(_as_text(token.resolve(context))), tokens_for(event))


def _not_an_address(value: str) -> str:
    """A customer's own data (a name, a street, a ticket's subject) never carries a web address
    whole: the outbox turns every address of a text into a link on the short domain, which would
    then redirect anyone to a site a stranger typed as their name. "https://x" is sent as
    "https: //x"; only addresses the merchant wrote are shortened."""
    return value.replace("://", ": //") if "://" in value else value


def render_sample(body: str, *, event: str, shop: Shop) -> str:
    """The editor's preview: each token replaced by its realistic sample value."""
    with translation.override(shop.language):
        return _substitute(body, lambda token: _as_text(token.sample(shop)), tokens_for(event))


def longest_plausible(body: str, *, event: str, shop: Shop) -> str:
    """The template with each token replaced by its registry's longest plausible value
    (a 15-character first name, a 35-character street, the shop's real name, a
    five-digit amount in the shop's currency…)."""
    with translation.override(shop.language):
        return _substitute(body, lambda token: token.longest_value(shop), tokens_for(event))


# --- validation --------------------------------------------------------------------------------


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN_NAME_MAX else text[: _SHOWN_NAME_MAX - 1] + "…"


def _shown(name: str) -> str:
    return "{" + _cut(name) + "}"


def _suggestion(name: str, allowed: dict[str, Token]) -> str | None:
    candidates = list(allowed)
    # "{order.order_id}" or "{customer.firstname}": the part that is a token is what was meant.
    for part in reversed(re.split(r"[.\[\]|:()'\"]+", name)):
        if part in allowed:
            return part
    close = difflib.get_close_matches(name.lower(), candidates)  # best first
    return close[0] if close else None


def _token_error(name: str, allowed: dict[str, Token]) -> ValidationError:
    suggestion = _suggestion(name, allowed)
    if name in TOKENS:
        message = _("The token %(token)s is not available for this event.") % {"token": _shown(name)}
    elif re.search(r"[^\w]", name):
        message = _("%(token)s is not a token: tokens are plain names such as {order_id}; "
                    "nothing else can be read.") % {"token": _shown(name)}
    else:
        message = _("Unknown token %(token)s.") % {"token": _shown(name)}
    if suggestion:
        message += " " + _("Did you mean %(token)s?") % {"token": "{" + suggestion + "}"}
    # The message is complete: no params, which Django would %-format into it again, and a name the
    # merchant typed with a "%" ({discount%}) then raised instead of being named.
    return ValidationError(message, code="unknown_token")


def token_errors(body: str | None, *, event: str) -> list[ValidationError]:
    """Every token in ``body`` that ``event`` does not offer, each named once."""
    allowed = tokens_for(event)
    errors, seen = [], set()
    for match in TOKEN_RE.finditer(body) if body else ():
        if text := match.group("engine"):
            if text not in seen:
                seen.add(text)
                errors.append(ValidationError(
                    _("%(text)s is not supported: write a token as {firstname} or [[firstname]].")
                    % {"text": _cut(text)},
                    code="engine_syntax"))
            continue
        name = _token_name(match)
        if name not in allowed and name not in seen:
            seen.add(name)
            errors.append(_token_error(name, allowed))
    return errors


def longest_segments(body: str, *, event: str, shop: Shop) -> int:
    """SMS parts of the longest plausible rendering, as the outbox will send it."""
    return sms_estimate(shop=shop, text=longest_plausible(body, event=event, shop=shop)).segments


def segments_error(body: str, *, event: str, shop: Shop) -> ValidationError | None:
    """The shop's limit of SMS parts, checked on the longest plausible rendering."""
    sms = sms_settings_for(shop)
    segments = longest_segments(body, event=event, shop=shop)
    if segments <= sms.max_segments:
        return None
    return ValidationError(
        ngettext(
            "With long values (names, addresses, amounts) this text can take up to %(segments)d SMS; "
            "your shop allows %(max)d part. Shorten the text or raise the limit in your SMS settings.",
            "With long values (names, addresses, amounts) this text can take up to %(segments)d SMS; "
            "your shop allows %(max)d parts. Shorten the text or raise the limit in your SMS settings.",
            sms.max_segments,
        ) % {"segments": segments, "max": sms.max_segments},
        code="too_many_segments",
    )


def validation_errors(body: str, *, event: str, audience: str | None = None,
                      shop: Shop | None = None) -> dict[str, list[ValidationError]]:
    errors: dict[str, list[ValidationError]] = {}
    found = EVENTS.get(event)
    if found is None:
        errors["event"] = [ValidationError(_("Unknown event %(event)s.") % {"event": event}, code="unknown_event")]
        return errors
    if audience is not None and audience not in found.audiences:
        errors["audience"] = [ValidationError(_("This event cannot be sent to this recipient."), code="audience")]
    body_errors = token_errors(body, event=event)
    if not body_errors and body and shop is not None:
        too_long = segments_error(body, event=event, shop=shop)
        if too_long is not None:
            body_errors.append(too_long)
    if body_errors:
        errors["body"] = body_errors
    return errors


def validate(body: str, *, event: str, audience: str | None = None, shop: Shop | None = None) -> None:
    """Raise a ValidationError keyed by field ("body", "event", "audience") naming every problem."""
    errors = validation_errors(body, event=event, audience=audience, shop=shop)
    if errors:
        raise ValidationError(errors)
