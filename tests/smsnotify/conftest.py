import pytest

from tests.smsnotify import policies
from tests.smsnotify.gateways import LookupGateway


@pytest.fixture
def policy_calls():
    """What the test policies of tests/smsnotify/policies.py saw, in order."""
    policies.calls.clear()
    yield policies.calls
    policies.calls.clear()


@pytest.fixture
def lookup_gateway(settings):
    settings.SMS_GATEWAY = "tests.smsnotify.gateways.LookupGateway"
    LookupGateway.answers, LookupGateway.asked = {}, []
    yield LookupGateway
    LookupGateway.answers, LookupGateway.asked = {}, []
