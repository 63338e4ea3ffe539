import datetime as dt

from django import forms
from django.utils.text import capfirst
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.models import CouponKind
from shop.money import to_major, to_minor
from smsnotify.forms import validate_calendar_day

from .models import DateCampaign

# Twilio refuses bodies over 1,600 characters (21617); longer texts are never sent anyway.
MAX_BODY = 1600


class SmsTextForm(forms.Form):
    body = forms.CharField(
        label=_("Text"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 5, "cols": 70, "class": "sms-body"}),
    )
    send_key = forms.CharField(widget=forms.HiddenInput)


class DateCampaignAdminForm(forms.ModelForm):
    """The discount is typed as people write it: a percentage ("15"), or an amount in the shop's
    currency ("10.00", "10,00" in Polish), stored in minor units (1000) — a merchant never
    multiplies by a hundred (shop/forms.py does the same for prices)."""

    discount_value = forms.DecimalField(
        label=capfirst(_("discount value")), required=False, min_value=0, localize=True,
        help_text=_("A percentage (1-100), or an amount in your shop's currency (e.g. 10.00)."))

    class Meta:
        model = DateCampaign
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        campaign = self.instance
        if campaign.shop_id and campaign.discount_kind == CouponKind.AMOUNT and campaign.discount_value is not None:
            self.initial["discount_value"] = to_major(campaign.discount_value, campaign.shop.currency)

    def _currency(self, data: dict) -> str:
        shop = data.get("shop") or (self.instance.shop if self.instance.shop_id else None)
        return shop.currency if shop is not None else "USD"

    def clean(self):
        data = super().clean()
        value = data.get("discount_value")
        if value is None:
            return data
        if data.get("discount_kind") == CouponKind.AMOUNT:
            currency = self._currency(data)
            try:
                data["discount_value"] = to_minor(value, currency)
            except ValueError:
                self.add_error("discount_value", _("Too many decimals for %(currency)s.") % {"currency": currency})
        elif value != value.to_integral_value():
            self.add_error("discount_value", _("A percentage is a whole number."))
        else:
            data["discount_value"] = int(value)
        return data
class BulkSmsForm(SmsTextForm):
    """The bulk send page: the text, promotional or service, and an optional time in the shop's zone."""

    purpose = forms.ChoiceField(label=_("Kind of text"), widget=forms.RadioSelect, initial="promotional", required=False,
                                choices=[("promotional", _("Promotional: only customers who gave marketing consent, "
                                                           "within your quiet hours and frequency cap")),
                                         ("service", _("Service: everyone selected except those who opted out "
                                                       "(not for advertising)"))])
    send_at = forms.DateTimeField(label=_("Send at"), required=False,
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                             format="%Y-%m-%dT%H:%M"),
                                  input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                  help_text=_("Empty: at once. In your shop's time zone."))

    def __init__(self, *args, zone=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone

    def clean_purpose(self):
        return self.cleaned_data.get("purpose") or "promotional"

    def clean_send_at(self):
        value = self.cleaned_data.get("send_at")
        if value is None:
            return None
        # The browser sends the shop's wall-clock time without a zone: read it in the shop's zone.
        value = value.replace(tzinfo=None).replace(tzinfo=self.zone) if self.zone else value
        if value <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future, or leave it empty to send at once."))
        return value


class StatisticsForm(forms.Form):
    """The statistics page's period and range (the shop's days; both ends included), and for the
    operator the shop. Empty fields take the period's default range, ending today."""

    MAX_DAYS = 3 * 366  # a range of at most three years
    DEFAULT_BACK = {"day": {"days": 29}, "week": {"weeks": 11}, "month": {"days": 334}}

    period = forms.ChoiceField(label=_("Group by"), choices=[("day", _("day")), ("week", _("week (from Monday)")),
                                                        ("month", _("month"))], required=False)
    # A date input reads only ISO dates, whatever the shop's language shows elsewhere.
    start = forms.DateField(label=_("From"), required=False, validators=[validate_calendar_day],
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("To"), required=False, validators=[validate_calendar_day],
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, today, shops=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        if shops is not None:  # the operator picks the shop; a merchant's is their own
            self.fields["shop"] = forms.ModelChoiceField(label=_("Shop"), queryset=shops, required=False,
                                                         empty_label=None)

    def clean(self):
        data = super().clean()
        data["period"] = data.get("period") or "day"
        end = data.get("end") or self.today
        start = data.get("start") or end - dt.timedelta(**self.DEFAULT_BACK[data["period"]])
        if start > end:
            raise forms.ValidationError(_("The range must start before it ends."))
        if (end - start).days > self.MAX_DAYS:
            raise forms.ValidationError(_("Choose a range of at most three years."))
        data.update(start=start, end=end)
        return data
