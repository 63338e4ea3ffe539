"""Delivery policies for tests, configured with override_settings(SMS_DELIVERY_POLICIES=[...]).

Each records what it saw in ``calls`` (emptied by the ``policy_calls`` fixture), so a test can
tell which messages reached which policy, and in which order ``settle`` ran.
"""

import datetime as dt

from credits.models import EntryKind, LedgerEntry
from shop.models import Customer, MarketingConsent
from smsnotify.models import Status
from smsnotify.policies import DeliveryPolicy, Hold, Refuse

calls: list[tuple] = []

# Where HoldMarked sends a message back to: far enough that no test reaches it by accident.
LATER = dt.datetime(2099, 1, 1, 9, 30, tzinfo=dt.UTC)


def path(policy: type) -> str:
    return f"{policy.__module__}.{policy.__qualname__}"


class Recorder(DeliveryPolicy):
    """Stops nothing; says which messages it saw, and at settle time how many refunds exist
    (which tells whether the charge policy settled before it)."""

    label = "recorder"

    def before_send(self, batch):
        calls.append((self.label, "before_send", [m.pk for m in batch.messages]))
        return {}

    def settle(self, outcomes):
        refunds = LedgerEntry.objects.filter(kind=EntryKind.REFUND).count()
        calls.append((self.label, "settle", sorted((o.message.pk, o.status, o.billed) for o in outcomes), refunds))


class FirstRecorder(Recorder):
    label = "first"


class LastRecorder(Recorder):
    label = "last"


class HoldMarked(DeliveryPolicy):
    """Holds the messages whose text contains "hold" until LATER, as quiet hours would."""

    reasons = {"quiet_hours": "Quiet hours in %(zone)s."}

    def before_send(self, batch):
        calls.append(("hold", "before_send", [m.pk for m in batch.messages]))
        return {m.pk: Hold(until=LATER, code="quiet_hours", params={"zone": "New York"})
                for m in batch.messages if "hold" in m.body}


class RefuseMarked(DeliveryPolicy):
    """Suppresses the messages whose text contains "refuse", as an opt-out list would."""

    reasons = {"refused_marked": "Not sent: %(phone)s replied STOP."}

    def before_send(self, batch):
        calls.append(("refuse", "before_send", [m.pk for m in batch.messages]))
        return {m.pk: Refuse(status=Status.SUPPRESSED, code="refused_marked", params={"phone": m.recipient})
                for m in batch.messages if "refuse" in m.body}


class OptedOutCustomers(DeliveryPolicy):
    """Asks the database, as a consent policy would: one query for the whole batch."""

    reasons = {"consent_revoked": "Not sent: the customer revoked consent."}

    def before_send(self, batch):
        phones = {m.recipient for m in batch.messages}
        opted_out = set(Customer.objects.filter(shop_id__in={m.shop_id for m in batch.messages}, phone__in=phones,
                                                marketing_consent=MarketingConsent.REVOKED).values_list("phone", flat=True))
        return {m.pk: Refuse(status=Status.SUPPRESSED, code="consent_revoked")
                for m in batch.messages if m.recipient in opted_out}


class Broken(DeliveryPolicy):
    """Raises, as a policy with a bug or a lost database connection would."""

    def before_send(self, batch):
        raise RuntimeError("policy bug")


class SlowLeaseRunsOut(DeliveryPolicy):
    """Takes so long that the stuck-message rule takes the messages whose text is "slow"."""

    def before_send(self, batch):
        from smsnotify.models import Message

        Message.objects.filter(pk__in=[m.pk for m in batch.messages], body="slow").update(status=Status.UNKNOWN)
        return {}


class AnotherRunTakesMarked(DeliveryPolicy):
    """Lets another delivery run claim the messages whose text contains "taken" (a re-run that
    overlapped this one); then refuses those with "refuse", holds those with "wait" until
    LATER, and raises when a text says "break"."""

    reasons = {"refused_marked": "Not sent: %(phone)s replied STOP.", "quiet_hours": "Quiet hours in %(zone)s."}

    def before_send(self, batch):
        import uuid

        from smsnotify.models import Message

        Message.objects.filter(pk__in=[m.pk for m in batch.messages if "taken" in m.body]).update(claim=uuid.uuid4())
        if any("break" in m.body for m in batch.messages):
            raise RuntimeError("policy bug")
        verdicts = {}
        for m in batch.messages:
            if "refuse" in m.body:
                verdicts[m.pk] = Refuse(status=Status.SUPPRESSED, code="refused_marked", params={"phone": m.recipient})
            elif "wait" in m.body:
                verdicts[m.pk] = Hold(until=LATER, code="quiet_hours", params={"zone": "Lisbon"})
        return verdicts


class RefuseWithALongReason(DeliveryPolicy):
    """Refuses every message with a reason longer than the stored error text may be."""

    code = "a_reason_code_longer_than_its_column_of_32"
    reasons = {code: "Not sent: %(detail)s"}

    def before_send(self, batch):
        return {m.pk: Refuse(status=Status.FAILED, code=self.code, params={"detail": "x" * 600})
                for m in batch.messages}


class SummaryRecorder(DeliveryPolicy):
    """Says, at settle time, each outcome with its summary (what a refund would be given as reason)."""

    def settle(self, outcomes):
        calls.append(("summary", "settle", sorted((o.message.pk, o.status, o.billed, o.summary) for o in outcomes)))


class WorkerKilled(BaseException):
    """What a worker killed mid-run looks like to the code (no ``except Exception`` sees it)."""


class Dies(DeliveryPolicy):
    """The worker is killed while the policies run: nothing of the run is recorded."""

    def before_send(self, batch):
        raise WorkerKilled()


clock = None  # the time_machine traveller of a test using SlowPolicy


class SlowPolicy(DeliveryPolicy):
    """Takes thirty seconds to decide (a slow lookup): the claim and the attempt are that far apart."""

    def before_send(self, batch):
        clock.shift(dt.timedelta(seconds=30))
        return {}
