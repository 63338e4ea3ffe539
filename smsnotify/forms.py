"""Forms of the messaging core's admin pages: the SMS report's dates and the test text."""

from __future__ import annotations

import datetime as dt

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _, ngettext
from phonenumber_field.formfields import PhoneNumberField

from shop.models import Shop
from shop.phones import NOT_TEXTABLE

from .report import REPORT_MAX_DAYS, report_messages

# Dates a report or a statistics page can be about (the far ends of the calendar would overflow a day's bounds).
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def validate_calendar_day(day: dt.date) -> None:
    """A date field's validator: the day lies between EARLIEST and LATEST."""
    if not EARLIEST <= day <= LATEST:
        raise ValidationError(_("Choose a day between %(earliest)s and %(latest)s."), code="out_of_calendar",
                              params={"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()})


class ReportForm(forms.Form):
    """A range of the shop's dates and a file format; the operator also picks the shop."""

    FORMATS = [("csv", _("CSV")), ("xlsx", _("Excel (XLSX)"))]

    shop = forms.ModelChoiceField(label=_("shop"), queryset=Shop.objects.order_by("name"))
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                            validators=[validate_calendar_day])
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                          validators=[validate_calendar_day], help_text=_("Both days included, in your shop's time zone."))
    format = forms.ChoiceField(label=_("File"), choices=FORMATS, initial="csv", widget=forms.RadioSelect)

    def __init__(self, *args, shop: Shop | None, today: dt.date, **kwargs):
        """``shop``: the merchant's; None for the operator, who picks one."""
        super().__init__(*args, **kwargs)
        self.shop = shop
        if shop is not None:  # a merchant's report is their shop's, whatever the request says
            del self.fields["shop"]
        self.fields["start"].initial = today.replace(day=1)
        self.fields["end"].initial = today

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("end", _("The last day cannot be before the first."))
            elif (end - start).days + 1 > REPORT_MAX_DAYS:
                self.add_error("end", _("At most %(days)d days at once: export a longer period in parts.")
                               % {"days": REPORT_MAX_DAYS})
        shop = self.shop or data.get("shop")
        if shop and data.get("format") == "xlsx" and data.get("start") and data.get("end"):
            # An Excel file is complete only at its end: nothing reaches the browser while it is
            # written, and past the web server's timeout (120 s) the download would be cut off.
            count = report_messages(shop=shop, start=data["start"], end=data["end"]).count()
            if count > settings.SMS_REPORT_XLSX_MAX_ROWS:
                self.add_error("format", ngettext(
                    "%(count)s text is too many for one Excel file (at most %(max)s): choose CSV, or a shorter period.",
                    "%(count)s texts are too many for one Excel file (at most %(max)s): choose CSV, or a shorter "
                    "period.", count) % {"count": formats.number_format(count, force_grouping=True),
                                         "max": formats.number_format(settings.SMS_REPORT_XLSX_MAX_ROWS,
                                                                      force_grouping=True)})
        return data


class TestTextForm(forms.Form):
    to = PhoneNumberField(label=_("Send a test text to"),
                          help_text=_("A mobile number; in +country format if it is not in your shop's country."))

    def __init__(self, *args, region: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].region = region

    def clean_to(self):
        # Refused here, before it counts against the test texts' limit or costs credits: the
        # provider would refuse it (21614) or a landline would never show it.
        number = self.cleaned_data["to"]
        if number and phonenumbers.number_type(number) in NOT_TEXTABLE:
            raise ValidationError(_("This number cannot receive text messages: enter a mobile number."),
                                  code="not_mobile")
        return number
