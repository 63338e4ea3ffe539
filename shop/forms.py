"""Admin forms of the store where an amount is typed differently from how it is stored."""

from __future__ import annotations

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .models import Order, Product
from .money import to_major, to_minor


def money_field(label, help_text="") -> forms.DecimalField:
    # capitalised as the admin does a model field's verbose_name
    return forms.DecimalField(label=capfirst(label), help_text=help_text, min_value=0, localize=True)


class MoneyFieldsForm(forms.ModelForm):
    """Amounts are typed as people write them ("58.90", "58,90" in Polish) and stored in minor
    units (5890): a merchant should never have to multiply by a hundred."""

    money_fields: tuple[str, ...] = ()

    def currency(self, data: dict | None = None) -> str:
        raise NotImplementedError

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.money_fields:
            if name in self.fields:
                self.initial[name] = to_major(self.initial.get(name), self.currency())

    def clean(self):
        data = super().clean()
        currency = self.currency(data)
        for name in self.money_fields:
            if data.get(name) is None:
                continue
            try:
                data[name] = to_minor(data[name], currency)
            except ValueError:
                self.add_error(name, _("Too many decimals for %(currency)s.") % {"currency": currency})
        return data


class OrderAdminForm(MoneyFieldsForm):
    money_fields = ("subtotal", "shipping_cost", "total")

    subtotal = money_field(_("subtotal"), _("Goods, without shipping."))
    shipping_cost = money_field(_("shipping cost"))
    total = money_field(_("total"), _("Goods and shipping."))

    class Meta:
        model = Order
        fields = "__all__"

    def currency(self, data=None):
        return (data or {}).get("currency") or self.instance.currency


class ProductAdminForm(MoneyFieldsForm):
    money_fields = ("price",)

    price = money_field(_("price"))

    class Meta:
        model = Product
        fields = "__all__"

    def currency(self, data=None):
        shop = (data or {}).get("shop") or getattr(self.instance, "shop", None)
        return shop.currency if shop is not None else ""
