"""The store's domain events: the one door through which what happens in a store reaches SMS.

Each is a Django custom signal sent by a service in ``shop/services.py`` *inside* its
transaction (``send``, not ``send_robust``): a Message a receiver writes commits or rolls back
with the event, and a receiver's error rolls the store change back instead of losing a text
silently. The store knows nothing of SMS; the apps that care connect receivers in their
``AppConfig.ready()``. A later API for other shop platforms calls the same services.

Every signal is sent with ``sender=Shop`` (the tenant model) and keyword arguments named in
its comment.
"""

from django.dispatch import Signal

shop_created = Signal()  # shop
order_placed = Signal()  # order
order_status_changed = Signal()  # order, previous (the status before)
tracking_code_set = Signal()  # order, previous (the code before, "" when none)
ticket_opened = Signal()  # ticket
ticket_answered = Signal()  # ticket
customer_registered = Signal()  # customer
cart_updated = Signal()  # cart
product_back_in_stock = Signal()  # product
# A one-time code to text (shop/verification.py): code (a VerificationCode), secret (the digits, never
# stored). A receiver that cannot send it raises verification.CodeUnavailable: nothing is kept.
verification_code_issued = Signal()
# The shop's hourly ceiling of code texts was reached (the first refusal of the hour): shop, limit.
code_ceiling_reached = Signal()
