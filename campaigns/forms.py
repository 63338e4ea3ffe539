from django import forms
from django.utils.translation import gettext_lazy as _

# Twilio refuses bodies over 1,600 characters (21617); longer texts are never sent anyway.
MAX_BODY = 1600


class SmsTextForm(forms.Form):
    body = forms.CharField(
        label=_("Text"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 5, "cols": 70, "class": "sms-body"}),
    )
    send_key = forms.CharField(widget=forms.HiddenInput)
