"""``{% load money %}``: the project's one money formatter (shop.money) in templates."""

from django import template

from shop.money import format_money, format_number

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ order.total|money:order.currency }}`` → "$58.90" (in the active language)."""
    return format_money(amount, currency)


@register.filter
def number(value):
    """``{{ balance|number }}`` → "1,000,000" in English, "1 000 000" in Polish."""
    return "" if value is None or value == "" else format_number(value)
