"""The simple backends and the factory that loads SMS_GATEWAY."""

import io

import pytest

from smsnotify.gateways import OutboundSms, PermanentGatewayError, TransientGatewayError, get_gateway
from smsnotify.gateways.console import ConsoleGateway
from smsnotify.gateways.sandbox import SandboxGateway


def sms(to="+12025550123"):
    return OutboundSms(reference="msg-1", to=to, body="Hello", sender="Shop")


def test_get_gateway_loads_the_configured_backend(settings):
    settings.SMS_GATEWAY = "smsnotify.gateways.console.ConsoleGateway"
    assert isinstance(get_gateway(), ConsoleGateway)
    with pytest.raises(ImportError):
        get_gateway("smsnotify.gateways.nope.Nope")


def test_console_writes_each_sms_to_its_stream():
    stream = io.StringIO()
    with ConsoleGateway(stream=stream) as gateway:
        result = gateway.send(sms())
    assert result.provider_id.startswith("console-")
    assert "SMS msg-1 from Shop to +12025550123:\nHello\n" in stream.getvalue()


@pytest.mark.parametrize("to,code", [("+15005550001", "21211"), ("+15005550004", "21610"), ("+15005550009", "21614")])
def test_sandbox_refuses_its_test_numbers_like_a_provider(to, code):
    with pytest.raises(PermanentGatewayError) as excinfo:
        SandboxGateway().send(sms(to))
    assert excinfo.value.code == code


def test_sandbox_busy_number_is_transient():
    with pytest.raises(TransientGatewayError):
        SandboxGateway().send(sms("+15005550012"))
