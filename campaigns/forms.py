from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Twilio refuses bodies over 1,600 characters (21617); longer texts are never sent anyway.
MAX_BODY = 1600


class SmsTextForm(forms.Form):
    body = forms.CharField(
        label=_("Text"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 5, "cols": 70, "class": "sms-body"}),
    )
    send_key = forms.CharField(widget=forms.HiddenInput)


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
