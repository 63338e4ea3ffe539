"""Posting an admin change form as the browser would: every field as shown, inlines included."""

from __future__ import annotations

from django import forms


def change_form_data(response, **changes) -> dict:
    """The data the browser posts back for the change page in ``response``, with ``changes``.

    A split date-time field posts its two parts (``name_0``, ``name_1``); each inline posts its
    management form and its rows, as Django's admin requires.
    """
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.SplitDateTimeField) and value is not None:
            data[f"{name}_0"], data[f"{name}_1"] = value.strftime("%Y-%m-%d"), value.strftime("%H:%M:%S")
        elif value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for subform in (formset.management_form, *formset.forms):
            data.update({subform.add_prefix(name): subform[name].value() for name in subform.fields
                         if subform[name].value() is not None})
    data.update(changes)
    return data
