"""What credits tells the apps above it. Sent after the transaction that caused it committed."""

from django.dispatch import Signal

# An armed account's balance fell below its alert threshold (once per downward crossing,
# whatever took it there: a charge, an adjustment). Arguments: shop_id, balance, threshold,
# crossing (a counter per account, for the alert's dedupe key).
low_balance = Signal()
