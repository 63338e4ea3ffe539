"""A shop's customers as the CSV file the import reads (shop/customer_import.py): the same
columns, so an exported file imports again (into a shop without those customers)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from . import phones
from .customer_import import HEADERS
from .models import ConsentSource, Customer, MarketingConsent, Shop

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Free text that a spreadsheet would run as a formula is quoted (CSV injection); the
    import takes the quote off again."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def customer_export_row(customer: Customer) -> list[str]:
    """The file's columns for one customer (``customer.shop`` is read for its time zone)."""
    national, code = phones.e164_split(customer.phone) if customer.phone else ("", "")
    consent = {MarketingConsent.GRANTED: "Y", MarketingConsent.REVOKED: "N"}.get(customer.marketing_consent, "")
    at, source = customer.marketing_consent_at, customer.marketing_consent_source
    if source == ConsentSource.IMPORT and customer.marketing_consent_text:
        source = customer.marketing_consent_text  # where the imported file said it came from
    return [
        national, code, "Y" if customer.phone else "N",
        _cell(customer.first_name), _cell(customer.last_name), _cell(customer.email),
        customer.birthday.isoformat() if customer.birthday else "",
        consent,
        at.astimezone(customer.shop.zone).strftime("%Y-%m-%d %H:%M") if consent and at else "",
        _cell(source) if consent else "",
    ]


class EchoWriter:
    """A file for csv.writer whose write returns the line: a streamed CSV, one line at a time."""

    def write(self, value):
        return value


def customer_export_delimiter(*, shop: Shop | None) -> str:
    """What the shop's spreadsheets read without asking: ";" where the decimal mark is a comma."""
    return ";" if shop is not None and shop.language in ("pl", "pt") else ","


def customer_export_csv(*, customers: QuerySet, shop: Shop | None, with_shop: bool = False) -> Iterator[str]:
    """The CSV text, line by line, read in chunks (a large shop's list never sits in memory):
    UTF-8 with the byte-order mark by which Excel knows it is UTF-8. ``with_shop`` adds the
    shop's name first (the operator's export mixes shops)."""
    writer = csv.writer(EchoWriter(), delimiter=customer_export_delimiter(shop=shop))
    yield "\ufeff" + writer.writerow((["Shop"] if with_shop else []) + HEADERS)
    for customer in customers.select_related("shop").order_by("pk").iterator(chunk_size=2000):
        yield writer.writerow(([_cell(customer.shop.name)] if with_shop else []) + customer_export_row(customer))
