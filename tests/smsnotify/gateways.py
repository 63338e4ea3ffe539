"""Gateways for tests of the messaging core."""

from smsnotify.gateways.locmem import LocmemGateway


class LookupGateway(LocmemGateway):
    """The locmem gateway (same name, so it owns the rows locmem sent) that can look messages up,
    as Twilio can by To and date. ``answers`` maps a recipient to what the provider says about it:
    a SendResult (found), None (surely absent) or an exception (cannot tell now)."""

    answers: dict = {}
    asked: list = []

    def find_sent(self, sms, *, since):
        type(self).asked.append((sms.to, sms.reference, since))
        answer = self.answers[sms.to]
        if isinstance(answer, Exception):
            raise answer
        return answer
