import pytest

from tests.smsnotify import policies


@pytest.fixture
def policy_calls():
    """What the test policies of tests/smsnotify/policies.py saw, in order."""
    policies.calls.clear()
    yield policies.calls
    policies.calls.clear()
