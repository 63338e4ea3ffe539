"""Storefront accounts: sign-up by mobile, log-in by a verified mobile or email, a new number,
the email's verification and the password reset. The account is the shop's ``Customer`` (the
one the admin and the campaigns use), with a password hash (Django's hashers) and the number and
address its owner proved with a code (shop/verification.py).

Choices, and why:

- **Nothing is written before the number is proved.** Sign-up keeps its draft (the profile, the
  password already hashed, the consent's wording and IP address) in the visitor's session and
  only writes the customer when the code is right: a visitor cannot put a name on somebody
  else's number, and an order's customer with that number becomes the account (one record).
- **No answer tells whether a number or an address has an account.** Sign-up texts a code to any
  allowed number and says the same; the password reset does too. Whoever enters the right code
  has shown the number is theirs, and only then learns that it already had an account (sign-up
  then sets the password they chose and logs them in, as a reset by text would) or that it has
  none (reset). A reset by email issues and counts a code either way but emails it only to an
  account's verified address (a task sends it, so the answer's timing is the same). Log-in
  runs the password hasher whether or not the account exists (Django's ``check_password`` on a
  missing hash does the same work).
- **A changed number takes effect only once the new one is proved**; the old one stays the
  log-in until then. A number or address another account has proved is refused after the code,
  never before.
- **Verified means "the current one"**: ``verified_mobile`` and ``verified_email`` hold what was
  proved; when the merchant or an import changes ``phone`` or ``email``, the customer simply is
  not verified any more, and a stale proof gives way to whoever proves that number next.
- **Checkout** (the storefront has none yet): ``checkout_email`` is the rule a checkout calls: a
  customer who signed up by mobile without an email gives one there.

Storefront sessions are per shop and apart from the admin's log-in (see storefront/sessions.py);
``account_session_hash`` ends every other session of an account when its password changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from .models import CodeChannel, CodePurpose, ConsentSource, Customer, Shop, VerificationCode
from .services import _phone_or_blank, customer_consent_record, customer_create
from .verification import verification_code_check, verification_code_send


def normalized_email(raw: str) -> str:
    return (raw or "").strip().lower()


@dataclass(frozen=True)
class SignupDraft:
    """What a visitor filled in to sign up, kept in their session until the code proves the number."""

    phone: str  # E.164
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    password_hash: str = ""
    consent_text: str = ""  # the wording of the box they ticked; "" when not ticked
    ip: str | None = None

    def as_session(self) -> dict:
        return asdict(self)

    @classmethod
    def from_session(cls, data) -> SignupDraft | None:
        try:
            return cls(**data)
        except TypeError:
            return None


@dataclass(frozen=True)
class SignupResult:
    customer: Customer
    existed: bool  # the number already had an account: its password is now the one just chosen


def _password_checked(password: str) -> str:
    validate_password(password)  # Django's validators (length, common, numeric), in the active language
    return make_password(password)


def signup_draft_make(*, shop: Shop, phone: str, password: str, first_name: str = "", last_name: str = "",
                      email: str = "", consent_text: str = "", ip: str | None = None) -> SignupDraft:
    """Check a sign-up's fields (ValidationError) and hash its password."""
    number = _phone_or_blank(phone, shop)
    if not number:
        raise ValidationError({"phone": _("Enter your mobile number.")}, code="required")
    email = normalized_email(email)
    if email:
        validate_email(email)
    try:
        password_hash = _password_checked(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    return SignupDraft(phone=number, first_name=first_name.strip(), last_name=last_name.strip(), email=email,
                       password_hash=password_hash, consent_text=consent_text, ip=ip)


def account_signup_code_send(*, shop: Shop, draft: SignupDraft, ip: str | None,
                             session_key: str) -> VerificationCode:
    """Text the sign-up code ("Send me check code"): to any allowed number, account or not."""
    return verification_code_send(shop=shop, channel=CodeChannel.SMS, address=draft.phone,
                                  purpose=CodePurpose.SIGNUP, ip=ip, session_key=session_key)


def account_signup_complete(*, shop: Shop, draft: SignupDraft, code: str) -> SignupResult:
    """The code proves the number: the account is written (or, for a number that had one, its
    password set). Raises CodeInvalid for a wrong code; nothing is written then."""
    verification_code_check(shop=shop, channel=CodeChannel.SMS, address=draft.phone, purpose=CodePurpose.SIGNUP,
                            code=code)
    now = timezone.now()
    with transaction.atomic():
        account = _account_by_mobile(shop, draft.phone, lock=True)
        existed = account is not None
        if not existed:
            _stale_proofs_clear(shop=shop, field="verified_mobile", value=draft.phone)
            # The store may know this number (an order, a form, or an account whose number the
            # merchant changed to it): that customer gets the account; never a second one.
            account = (Customer.objects.select_for_update().filter(shop=shop, phone=draft.phone)
                       .order_by("pk").first())
            existed = account is not None and bool(account.password)
            if account is None:
                account = customer_create(shop=shop, first_name=draft.first_name, last_name=draft.last_name,
                                          email=draft.email, phone=draft.phone)
            account.verified_mobile, account.mobile_verified_at = draft.phone, now
        for field in ("first_name", "last_name", "email"):  # what the record lacks; nothing is overwritten
            if not getattr(account, field):
                setattr(account, field, getattr(draft, field))
        account.password = draft.password_hash
        account.save(update_fields=["first_name", "last_name", "email", "password", "verified_mobile",
                                    "mobile_verified_at"])
        if draft.consent_text:
            customer_consent_record(customer=account, granted=True, source=ConsentSource.SIGNUP, ip=draft.ip,
                                    text=draft.consent_text)
    return SignupResult(customer=account, existed=existed)


# --- log-in --------------------------------------------------------------------------------------


def _account_by_mobile(shop: Shop, number: str, *, lock: bool = False) -> Customer | None:
    rows = Customer.objects.filter(shop=shop, verified_mobile=number, phone=number).exclude(password="")
    return (rows.select_for_update() if lock else rows).first()


def _account_by_email(shop: Shop, email: str) -> Customer | None:
    return (Customer.objects.filter(shop=shop, verified_email=email, email__iexact=email).exclude(password="")
            .first())


def account_authenticate(*, shop: Shop, login: str, password: str) -> Customer | None:
    """The account whose verified mobile (E.164) or verified email is ``login`` and whose password
    is ``password``; None otherwise, after the same hashing work either way."""
    login = login.strip()
    account = _account_by_email(shop, normalized_email(login)) if "@" in login else _account_by_mobile(shop, login)

    def upgrade(raw):  # a hash made with an older hasher or fewer iterations is renewed
        account.password = make_password(raw)
        account.save(update_fields=["password"])

    # An unusable hash for nobody: Django then runs the hasher once anyway, as a real check would.
    if check_password(password, account.password if account is not None else make_password(None), setter=upgrade):
        return account
    return None


def account_session_hash(customer: Customer) -> str:
    """Kept in the session at log-in: a new password ends every session made with the old one."""
    return salted_hmac("shop.accounts.session", customer.password, algorithm="sha256").hexdigest()


# --- a new number ----------------------------------------------------------------------------


def account_number_code_send(*, customer: Customer, phone: str, ip: str | None, session_key: str) -> str:
    """Text a code to the customer's new number; returns the number (E.164). The number changes
    only when the code comes back (``account_number_change``)."""
    number = _phone_or_blank(phone, customer.shop)
    if not number:
        raise ValidationError({"phone": _("Enter your mobile number.")}, code="required")
    if number == customer.verified_mobile and customer.mobile_verified:
        raise ValidationError({"phone": _("This is already your number.")}, code="same")
    verification_code_send(shop=customer.shop, channel=CodeChannel.SMS, address=number,
                           purpose=CodePurpose.CHANGE_NUMBER, customer=customer, ip=ip, session_key=session_key)
    return number


def account_number_change(*, customer: Customer, number: str, code: str) -> Customer:
    """The code proves the new number: it becomes the customer's number and log-in. Raises
    CodeInvalid, or ValidationError when another account has proved that number."""
    verification_code_check(shop=customer.shop, channel=CodeChannel.SMS, address=number,
                            purpose=CodePurpose.CHANGE_NUMBER, code=code, customer=customer)
    taken = ValidationError(_("This number belongs to another account. Log in with it, or reset its password."),
                            code="taken")
    try:
        with transaction.atomic():
            if _account_by_mobile(customer.shop, number, lock=True) not in (None, customer):
                raise taken
            _stale_proofs_clear(shop=customer.shop, field="verified_mobile", value=number, keep=customer)
            customer.phone, customer.verified_mobile, customer.mobile_verified_at = number, number, timezone.now()
            customer.save(update_fields=["phone", "verified_mobile", "mobile_verified_at"])
    except IntegrityError:  # proved by another account at this very moment
        raise taken from None
    return customer


def _stale_proofs_clear(*, shop: Shop, field: str, value: str, keep: Customer | None = None) -> None:
    """A proof its customer no longer uses (their number or address was changed since) gives way
    to the one who proves that number or address now."""
    current = "phone" if field == "verified_mobile" else "email__iexact"
    stale = Customer.objects.filter(shop=shop, **{field: value}).exclude(**{current: value})
    if keep is not None:
        stale = stale.exclude(pk=keep.pk)
    stale.update(**{field: "", field.replace("verified_", "") + "_verified_at": None})


# --- the profile and its email -----------------------------------------------------------------


def account_profile_update(*, customer: Customer, first_name: str, last_name: str, email: str) -> Customer:
    """The customer's own edit of their name and email. A new email is not verified (nor a log-in)
    until its code comes back."""
    email = normalized_email(email)
    if email:
        validate_email(email)
    fields = {"first_name": first_name.strip(), "last_name": last_name.strip(), "email": email}
    if email != customer.verified_email:
        fields.update(verified_email="", email_verified_at=None)
    for field, value in fields.items():
        setattr(customer, field, value)
    customer.full_clean(exclude=["phone"])
    customer.save(update_fields=list(fields))
    return customer


def account_email_code_send(*, customer: Customer, ip: str | None, session_key: str) -> VerificationCode:
    """Email a code to the customer's address, to verify it (then it is a log-in too)."""
    email = normalized_email(customer.email)
    if not email:
        raise ValidationError(_("Enter your email address first."), code="required")
    if customer.email_verified:
        raise ValidationError(_("Your email address is already verified."), code="verified")
    return verification_code_send(shop=customer.shop, channel=CodeChannel.EMAIL, address=email,
                                  purpose=CodePurpose.VERIFY_EMAIL, customer=customer, ip=ip, session_key=session_key)


def account_email_verify(*, customer: Customer, code: str) -> Customer:
    email = normalized_email(customer.email)
    verification_code_check(shop=customer.shop, channel=CodeChannel.EMAIL, address=email,
                            purpose=CodePurpose.VERIFY_EMAIL, code=code, customer=customer)
    taken = ValidationError(_("This email address belongs to another account."), code="taken")
    try:
        with transaction.atomic():
            if _account_by_email(customer.shop, email) not in (None, customer):
                raise taken
            _stale_proofs_clear(shop=customer.shop, field="verified_email", value=email, keep=customer)
            customer.verified_email, customer.email_verified_at = email, timezone.now()
            customer.save(update_fields=["verified_email", "email_verified_at"])
    except IntegrityError:
        raise taken from None
    return customer


# --- the password reset ------------------------------------------------------------------------


def account_reset_code_send(*, shop: Shop, channel: str, address: str, ip: str | None,
                            session_key: str) -> VerificationCode:
    """A reset code: texted to any allowed number (as sign-up's); emailed only to an account's
    verified address, but issued and counted for any (see the module's note)."""
    if channel == CodeChannel.SMS:
        return verification_code_send(shop=shop, channel=channel, address=address, purpose=CodePurpose.RESET,
                                      ip=ip, session_key=session_key)
    email = normalized_email(address)
    return verification_code_send(shop=shop, channel=CodeChannel.EMAIL, address=email, purpose=CodePurpose.RESET,
                                  ip=ip, session_key=session_key, deliver=_account_by_email(shop, email) is not None)


def account_password_reset(*, shop: Shop, channel: str, address: str, code: str, password: str) -> Customer:
    """The code proves the number or address: the account's password becomes ``password``. Raises
    ValidationError for a weak password (before the code is tried), CodeInvalid, or
    ValidationError when no account has that number."""
    try:
        password_hash = _password_checked(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    address = normalized_email(address) if channel == CodeChannel.EMAIL else address
    verification_code_check(shop=shop, channel=channel, address=address, purpose=CodePurpose.RESET, code=code)
    with transaction.atomic():
        account = (_account_by_email(shop, address) if channel == CodeChannel.EMAIL
                   else _account_by_mobile(shop, address, lock=True))
        if account is None:  # only the number's or the address's owner gets here: telling them is no leak
            raise ValidationError(_("There is no account with this number. You can sign up with it.")
                                  if channel == CodeChannel.SMS else _("There is no account with this email address."),
                                  code="no_account")
        account.password = password_hash
        account.save(update_fields=["password"])
    return account


# --- checkout ------------------------------------------------------------------------------


def checkout_email(*, customer: Customer, email: str = "") -> str:
    """The email an order is placed with: the one given at checkout, else the customer's own. A
    customer who signed up by mobile without an email must give one; it is kept on their record
    when they had none (not verified: it is where the order's emails go, not a log-in)."""
    email = normalized_email(email)
    if email:
        validate_email(email)
        if not customer.email:  # theirs from now on; an address they have is not replaced by an order's
            customer.email = email
            customer.save(update_fields=["email"])
        return email
    if customer.email:
        return customer.email
    raise ValidationError({"email": _("Enter your email address: we send your order's confirmation there.")},
                          code="required")
