"""The storefront's account pages, under /store/<shop slug>/account/, in the shop's language.

Thin: the forms read what was typed, shop/accounts.py and shop/verification.py decide. A code
refused by a limit answers 429 with the rule's message and the time to wait; the other refusals
(a country the shop does not text, SMS off) answer 200 with their message.

No page tells whether a number or an email has an account: sign-up and the password reset answer
with the same redirect and the same next page for every number and address, and a failed log-in
with one message. Pages with a form are never cached (they carry a CSRF token and personal data).
"""

from __future__ import annotations

from functools import wraps

import phonenumbers
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .. import accounts
from ..models import CodeChannel, Shop
from ..verification import CODE_TTL, CodeInvalid, CodeRefused, wait_text
from . import sessions
from .account_forms import CodeForm, LoginForm, NewNumberForm, ProfileForm, ResetConfirmForm, ResetForm, SignupForm
from .limits import limit_wait
from .visitors import client_ip

HOUR = 3600


def storefront_page(view):
    """The shop named in the URL, its language and time zone, and no caching."""

    @wraps(view)
    def page(request, shop_slug: str):
        shop = get_object_or_404(Shop, slug=shop_slug)
        with translation.override(shop.language), timezone.override(shop.zone):
            response = view(request, shop)
            response["Content-Language"] = shop.language
        return response

    return never_cache(require_http_methods(["GET", "HEAD", "POST"])(page))


def _url(shop: Shop, name: str) -> str:
    return reverse(f"storefront:{name}", args=[shop.slug])


def _redirect(shop: Shop, name: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(_url(shop, name))


def _shown(number: str) -> str:
    """+48601234567 as +48 601 234 567."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return number


def _page(request, shop: Shop, template: str, status: int = 200, **context):
    customer = context.pop("customer", None) or sessions.session_customer(request, shop)
    return render(request, f"shop/storefront/account/{template}", {
        "shop": shop, "customer": customer, "minutes": CODE_TTL.seconds // 60, **context}, status=status)


def _form_page(request, shop: Shop, *, title: str, form, submit: str, intro: str = "", error: str = "",
               buttons=(), links=(), status: int = 200):
    """One form, a submit button and, in a second form, buttons such as "Send a new code"."""
    return _page(request, shop, "form.html", status=status, title=title, intro=intro, form=form, submit=submit,
                 error=error, buttons=buttons, links=links)


def _refused_status(refused: CodeRefused) -> int:
    return 429 if refused.wait_seconds else 200


def _errors_to_form(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- sign-up ---------------------------------------------------------------------------------


@storefront_page
def signup(request, shop: Shop):
    if sessions.session_customer(request, shop) is not None:
        return _redirect(shop, "account")
    form = SignupForm(request.POST or None, shop=shop)
    page = dict(title=_("Sign up"), submit=_("Send me check code"),
                intro=_("We text a code to your mobile number to check it is yours."),
                links=[(_url(shop, "login"), _("I have an account: log in"))])
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, shop, form=form, **page)
    data = form.cleaned_data
    ip = client_ip(request)
    try:
        draft = accounts.signup_draft_make(
            shop=shop, phone=data["phone"], password=data["password"], first_name=data["first_name"],
            last_name=data["last_name"], email=data["email"], consent_text=form.consent_text if data["consent"] else "",
            ip=ip)
    except ValidationError as exc:
        _errors_to_form(form, exc)
        return _form_page(request, shop, form=form, **page)
    try:
        accounts.account_signup_code_send(shop=shop, draft=draft, ip=ip, session_key=sessions.session_key(request))
    except CodeRefused as refused:
        return _form_page(request, shop, form=form, error=refused.message, status=_refused_status(refused), **page)
    sessions.pending_set(request, shop, sessions.SIGNUP, draft.as_session())
    return _redirect(shop, "verify")


@storefront_page
def verify(request, shop: Shop):
    """The sign-up's code; "Send a new code" asks again (within the limits)."""
    draft = accounts.SignupDraft.from_session(sessions.pending(request, shop, sessions.SIGNUP) or {})
    if draft is None:
        return _redirect(shop, "signup")
    form = CodeForm(request.POST if "code" in request.POST else None)
    page = dict(title=_("Enter your code"), submit=_("Verify"),
                intro=_("We have texted a code to %(number)s. It works for %(minutes)d minutes.") % {
                    "number": _shown(draft.phone), "minutes": CODE_TTL.seconds // 60},
                buttons=[("resend", _("Send a new code"))],
                links=[(_url(shop, "signup"), _("Use another number"))])
    if request.method != "POST":
        return _form_page(request, shop, form=form, **page)
    if "resend" in request.POST:
        try:
            accounts.account_signup_code_send(shop=shop, draft=draft, ip=client_ip(request),
                                              session_key=sessions.session_key(request))
        except CodeRefused as refused:
            return _form_page(request, shop, form=CodeForm(), error=refused.message,
                              status=_refused_status(refused), **page)
        messages.success(request, _("A new code is on its way."))
        return _redirect(shop, "verify")
    if not form.is_valid():
        return _form_page(request, shop, form=form, **page)
    try:
        result = accounts.account_signup_complete(shop=shop, draft=draft, code=form.cleaned_data["code"])
    except CodeInvalid as invalid:
        return _form_page(request, shop, form=CodeForm(), error=invalid.message, **page)
    sessions.pending_clear(request, shop, sessions.SIGNUP)
    sessions.session_login(request, shop, result.customer)
    if result.existed:
        messages.success(request, _("Your number is verified. It already had an account: you are logged in to it, "
                                    "with the password you have just chosen."))
    else:
        messages.success(request, _("Your number is verified. Welcome!"))
    return _redirect(shop, "account")


# --- log-in and log-out ----------------------------------------------------------------------


@storefront_page
def login(request, shop: Shop):
    if sessions.session_customer(request, shop) is not None and request.method != "POST":
        return _redirect(shop, "account")
    form = LoginForm(request.POST or None, shop=shop)
    page = dict(title=_("Log in"), submit=_("Log in"),
                intro=_("With your verified mobile number or your verified email."),
                links=[(_url(shop, "reset"), _("I forgot my password")), (_url(shop, "signup"), _("Sign up"))])
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, shop, form=form, **page)
    login_as = form.cleaned_data["login"]
    # Every try counts, known or not, so the limit says nothing about who has an account.
    wait = max(
        limit_wait(key=f"storefront:login:ip:{shop.pk}:{client_ip(request) or 'unknown'}",
                   limit=settings.STOREFRONT_LOGINS_PER_IP_PER_HOUR, window_seconds=HOUR),
        limit_wait(key=f"storefront:login:{shop.pk}:{salted_hmac('storefront.login', login_as).hexdigest()}",
                   limit=settings.STOREFRONT_LOGINS_PER_ACCOUNT_PER_HOUR, window_seconds=HOUR))
    if wait:
        return _form_page(request, shop, form=form, status=429, error=_(
            "Too many log-in attempts. Please try again in %(wait)s.") % {"wait": wait_text(wait)}, **page)
    customer = accounts.account_authenticate(shop=shop, login=login_as, password=form.cleaned_data["password"])
    if customer is None:
        return _form_page(request, shop, form=form, error=_(
            "This number or email and this password do not match an account. Log in with a verified number or "
            "email."), **page)
    sessions.session_login(request, shop, customer)
    return _redirect(shop, "account")


@storefront_page
def logout(request, shop: Shop):
    if request.method == "POST":
        sessions.session_logout(request, shop)
        messages.success(request, _("You are logged out."))
    return _redirect(shop, "login")


# --- the account -------------------------------------------------------------------------------


@storefront_page
def account(request, shop: Shop):
    customer = sessions.session_customer(request, shop)
    if customer is None:
        return _redirect(shop, "login")
    form = ProfileForm(request.POST or None, initial={
        "first_name": customer.first_name, "last_name": customer.last_name, "email": customer.email})
    if request.method == "POST" and form.is_valid():
        try:
            accounts.account_profile_update(customer=customer, **form.cleaned_data)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("Your details are saved."))
            return _redirect(shop, "account")
    return _page(request, shop, "profile.html", customer=customer, form=form, phone=_shown(str(customer.phone or "")))


def _logged_in(view):
    @wraps(view)
    def page(request, shop: Shop):
        customer = sessions.session_customer(request, shop)
        if customer is None:
            return _redirect(shop, "login")
        return view(request, shop, customer)

    return page


@storefront_page
@_logged_in
def change_number(request, shop: Shop, customer):
    """A new number: its code first; the number changes only when the code comes back."""
    number = sessions.pending(request, shop, sessions.NEW_NUMBER)
    ip, back = client_ip(request), [(_url(shop, "account"), _("Back to my account"))]
    if number and "cancel" in request.POST:
        sessions.pending_clear(request, shop, sessions.NEW_NUMBER)
        return _redirect(shop, "change-number")
    if not number:
        form = NewNumberForm(request.POST or None, shop=shop)
        page = dict(title=_("Change my number"), submit=_("Send me check code"), links=back,
                    intro=_("Your number changes once you enter the code we text to the new one."))
        if request.method != "POST" or not form.is_valid():
            return _form_page(request, shop, form=form, **page)
        try:
            number = accounts.account_number_code_send(customer=customer, phone=form.cleaned_data["phone"], ip=ip,
                                                       session_key=sessions.session_key(request))
        except ValidationError as exc:
            _errors_to_form(form, exc)
            return _form_page(request, shop, form=form, **page)
        except CodeRefused as refused:
            return _form_page(request, shop, form=form, error=refused.message, status=_refused_status(refused),
                              **page)
        sessions.pending_set(request, shop, sessions.NEW_NUMBER, number)
        return _redirect(shop, "change-number")

    form = CodeForm(request.POST if "code" in request.POST else None)
    page = dict(title=_("Enter your code"), submit=_("Verify"), links=back,
                intro=_("We have texted a code to %(number)s. It works for %(minutes)d minutes.") % {
                    "number": _shown(number), "minutes": CODE_TTL.seconds // 60},
                buttons=[("resend", _("Send a new code")), ("cancel", _("Use another number"))])
    if request.method != "POST":
        return _form_page(request, shop, form=form, **page)
    if "resend" in request.POST:
        try:
            accounts.account_number_code_send(customer=customer, phone=number, ip=ip,
                                              session_key=sessions.session_key(request))
        except (CodeRefused, ValidationError) as exc:
            error = exc.message if isinstance(exc, CodeRefused) else " ".join(exc.messages)
            return _form_page(request, shop, form=CodeForm(), error=error,
                              status=_refused_status(exc) if isinstance(exc, CodeRefused) else 200, **page)
        messages.success(request, _("A new code is on its way."))
        return _redirect(shop, "change-number")
    if not form.is_valid():
        return _form_page(request, shop, form=form, **page)
    try:
        accounts.account_number_change(customer=customer, number=number, code=form.cleaned_data["code"])
    except CodeInvalid as invalid:
        return _form_page(request, shop, form=CodeForm(), error=invalid.message, **page)
    except ValidationError as exc:
        sessions.pending_clear(request, shop, sessions.NEW_NUMBER)
        return _form_page(request, shop, form=CodeForm(), error=" ".join(exc.messages), **page)
    sessions.pending_clear(request, shop, sessions.NEW_NUMBER)
    messages.success(request, _("Your new number is verified and is now your number."))
    return _redirect(shop, "account")


@storefront_page
@_logged_in
def verify_email(request, shop: Shop, customer):
    """Email a code to the customer's address ("send"), then enter it."""
    back = [(_url(shop, "account"), _("Back to my account"))]
    form = CodeForm(request.POST if "code" in request.POST else None)
    page = dict(title=_("Verify my email"), submit=_("Verify"), links=back,
                intro=_("We have emailed a code to %(email)s. It works for %(minutes)d minutes.") % {
                    "email": customer.email, "minutes": CODE_TTL.seconds // 60},
                buttons=[("resend", _("Send a new code"))])
    if request.method != "POST":
        return _form_page(request, shop, form=form, **page)
    if "send" in request.POST or "resend" in request.POST:
        try:
            accounts.account_email_code_send(customer=customer, ip=client_ip(request),
                                             session_key=sessions.session_key(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return _redirect(shop, "account")
        except CodeRefused as refused:
            return _form_page(request, shop, form=CodeForm(), error=refused.message,
                              status=_refused_status(refused), **page)
        return _redirect(shop, "verify-email")
    if not form.is_valid():
        return _form_page(request, shop, form=form, **page)
    try:
        accounts.account_email_verify(customer=customer, code=form.cleaned_data["code"])
    except CodeInvalid as invalid:
        return _form_page(request, shop, form=CodeForm(), error=invalid.message, **page)
    except ValidationError as exc:
        return _form_page(request, shop, form=CodeForm(), error=" ".join(exc.messages), **page)
    messages.success(request, _("Your email address is verified: you can log in with it too."))
    return _redirect(shop, "account")


# --- the password reset ------------------------------------------------------------------------


@storefront_page
def reset(request, shop: Shop):
    form = ResetForm(request.POST or None, shop=shop)
    page = dict(title=_("Reset my password"), submit=_("Send me a code"),
                intro=_("Enter your mobile number to get a code by text message, or your verified email to get it "
                        "by email."),
                links=[(_url(shop, "login"), _("Log in"))])
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, shop, form=form, **page)
    channel = CodeChannel.EMAIL if form.cleaned_data["channel"] == "email" else CodeChannel.SMS
    address = form.cleaned_data["login"]
    try:
        accounts.account_reset_code_send(shop=shop, channel=channel, address=address, ip=client_ip(request),
                                         session_key=sessions.session_key(request))
    except CodeRefused as refused:
        return _form_page(request, shop, form=form, error=refused.message, status=_refused_status(refused), **page)
    sessions.pending_set(request, shop, sessions.RESET, {"channel": channel, "address": address})
    return _redirect(shop, "reset-confirm")


@storefront_page
def reset_confirm(request, shop: Shop):
    wanted = sessions.pending(request, shop, sessions.RESET)
    if not isinstance(wanted, dict) or wanted.get("channel") not in CodeChannel.values:
        return _redirect(shop, "reset")
    channel, address = wanted["channel"], str(wanted.get("address", ""))
    form = ResetConfirmForm(request.POST if "code" in request.POST else None)
    intro = (_("We have texted a code to %(address)s. It works for %(minutes)d minutes.") if channel == CodeChannel.SMS
             else _("If %(address)s is the verified email of an account, we have emailed it a code. It works for "
                    "%(minutes)d minutes.")) % {
        "address": _shown(address) if channel == CodeChannel.SMS else address, "minutes": CODE_TTL.seconds // 60}
    page = dict(title=_("Choose a new password"), submit=_("Save my new password"), intro=intro,
                buttons=[("resend", _("Send a new code"))], links=[(_url(shop, "reset"), _("Start again"))])
    if request.method != "POST":
        return _form_page(request, shop, form=form, **page)
    if "resend" in request.POST:
        try:
            accounts.account_reset_code_send(shop=shop, channel=channel, address=address, ip=client_ip(request),
                                             session_key=sessions.session_key(request))
        except CodeRefused as refused:
            return _form_page(request, shop, form=ResetConfirmForm(), error=refused.message,
                              status=_refused_status(refused), **page)
        messages.success(request, _("A new code is on its way."))
        return _redirect(shop, "reset-confirm")
    if not form.is_valid():
        return _form_page(request, shop, form=form, **page)
    try:
        customer = accounts.account_password_reset(shop=shop, channel=channel, address=address,
                                                   code=form.cleaned_data["code"], password=form.cleaned_data["password"])
    except CodeInvalid as invalid:
        return _form_page(request, shop, form=ResetConfirmForm(), error=invalid.message, **page)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            _errors_to_form(form, exc)
            return _form_page(request, shop, form=form, **page)
        return _form_page(request, shop, form=ResetConfirmForm(), error=" ".join(exc.messages), **page)
    sessions.pending_clear(request, shop, sessions.RESET)
    sessions.session_login(request, shop, customer)
    messages.success(request, _("Your new password is saved, and you are logged in."))
    return _redirect(shop, "account")
