"""Check that every shop's balance is what its ledger says. Exits 1 on any mismatch.

Three checks per account:
1. balance == sum of its ledger entries;
2. each entry's balance_after == the running sum up to it (entries in id order, which is the
   order they took the account's row lock in);
3. no charge or refund cycle is broken (a message refunded more often than charged).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, F, Q, Sum

from credits.models import CreditAccount, EntryKind, LedgerEntry


class Command(BaseCommand):
    help = "Verify that every credit balance equals the sum of its ledger; exit 1 with a report if not."

    def add_arguments(self, parser):
        parser.add_argument("--shop", help="Only the shop with this slug.")

    def handle(self, *args, shop=None, **options):
        accounts = CreditAccount.objects.select_related("shop").annotate(ledger_sum=Sum("entries__amount"))
        if shop:
            accounts = accounts.filter(shop__slug=shop)
        problems, checked = [], 0
        for account in accounts.order_by("pk").iterator(chunk_size=500):
            checked += 1
            total = account.ledger_sum or 0
            label = f"{account.shop.name} ({account.shop.slug}, account {account.pk})"
            if account.balance != total:
                problems.append(f"{label}: balance {account.balance} but the ledger sums to {total} "
                                f"(difference {account.balance - total:+d})")
            broken = self._first_broken_link(account)
            if broken:
                problems.append(f"{label}: {broken}")
        over_refunded = (LedgerEntry.objects.filter(message__isnull=False).values("message_id")
                         .annotate(charges=Count("pk", filter=Q(kind=EntryKind.CHARGE)),
                                   refunds=Count("pk", filter=Q(kind=EntryKind.REFUND)))
                         .filter(refunds__gt=F("charges")))
        if shop:
            over_refunded = over_refunded.filter(shop__slug=shop)
        for row in over_refunded[:100]:
            problems.append(f"message {row['message_id']}: refunded {row['refunds']} times, charged {row['charges']}")

        if problems:
            report = "\n".join(f"  - {line}" for line in problems)
            raise CommandError(f"Credits audit FAILED: {len(problems)} problem(s) in {checked} account(s):\n{report}")
        self.stdout.write(self.style.SUCCESS(f"Credits audit OK: {checked} account(s), every balance equals its ledger."))

    def _first_broken_link(self, account) -> str:
        running = 0
        entries = LedgerEntry.objects.filter(account=account).order_by("pk").values_list("pk", "amount", "balance_after")
        for pk, amount, balance_after in entries.iterator(chunk_size=5000):
            running += amount
            if balance_after != running:
                return f"entry {pk} says balance_after {balance_after}, the running sum is {running}"
        return ""
