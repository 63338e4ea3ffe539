"""The simple backends and the factory that loads SMS_GATEWAY."""

import datetime as dt
import io
import os
import select
import signal
import threading
import time

import pytest
import time_machine
from django.utils import timezone

from smsnotify.gateways import OutboundSms, PermanentGatewayError, TransientGatewayError, get_gateway
from smsnotify.gateways import sandbox
from smsnotify.gateways.base import (BaseGateway, DeliveryReport, GatewayError, RecipientOptedOut, SendResult, SentRef,
                                     report_billed)
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


# --- The sandbox: behaves like a provider, so the demo shows what production would -------------


@pytest.mark.parametrize("to", sorted(sandbox.REFUSED))
def test_sandbox_refuses_each_documented_test_number_with_its_code_and_words(to):
    code, words = sandbox.REFUSED[to]
    with pytest.raises(PermanentGatewayError) as excinfo:
        SandboxGateway().send(sms(to))
    assert (excinfo.value.code, excinfo.value.text) == (code, words)
    # only a STOP puts the number on the shop's opt-out list; an invalid or landline number does not
    assert isinstance(excinfo.value, RecipientOptedOut) is (code == "21610")


def test_sandbox_busy_number_answers_too_many_requests_every_time():
    for _ in range(2):
        with pytest.raises(TransientGatewayError) as excinfo:
            SandboxGateway().send(sms(sandbox.ALWAYS_BUSY))
        assert (excinfo.value.code, excinfo.value.text) == ("20429", "Too many requests.")


def test_sandbox_accepts_any_other_number_each_under_its_own_provider_id():
    gateway = SandboxGateway()
    first, second = gateway.send(sms()), gateway.send(sms())
    assert first.status == "sent"
    assert first.provider_id.startswith("SB") and len(first.provider_id) == 34
    assert first.provider_id != second.provider_id


def test_sandbox_reports_nothing_before_its_delivery_delay_then_delivered():
    gateway = SandboxGateway(delivery_seconds=5)
    with time_machine.travel(timezone.now(), tick=False):
        sent_at = timezone.now()
        ref = SentRef(provider_id="SB1", to="+12025550123", sent_at=sent_at)
        assert gateway.fetch_reports([ref]) == []
        with time_machine.travel(sent_at + dt.timedelta(seconds=4.999), tick=False):
            assert gateway.fetch_reports([ref]) == []
        with time_machine.travel(sent_at + dt.timedelta(seconds=5), tick=False):
            assert gateway.fetch_reports([ref]) == [DeliveryReport("SB1", "delivered")]


def test_sandbox_reports_a_message_without_a_sending_time_at_once():
    ref = SentRef(provider_id="SB1", to="+12025550123", sent_at=None)
    [report] = SandboxGateway(delivery_seconds=60).fetch_reports([ref])
    assert (report.provider_id, report.status, report.error_code, report.billed) == ("SB1", "delivered", "", True)


def test_sandbox_reports_each_message_of_a_poll():
    long_ago = timezone.now() - dt.timedelta(minutes=1)
    refs = [SentRef(provider_id=f"SB{n}", to="+12025550123", sent_at=long_ago) for n in range(3)]
    assert [r.provider_id for r in SandboxGateway().fetch_reports(refs)] == ["SB0", "SB1", "SB2"]


@pytest.mark.parametrize("to,status,code,words", [
    ("+15005550010", "undelivered", "30003", "Unreachable destination handset."),
    ("+15005550011", "failed", "30008", "Unknown error."),
])
def test_sandbox_reports_its_undeliverable_numbers_as_not_billed(to, status, code, words):
    ref = SentRef(provider_id="SB1", to=to, sent_at=timezone.now() - dt.timedelta(minutes=1))
    [report] = SandboxGateway().fetch_reports([ref])
    assert report == DeliveryReport("SB1", status, error_code=code, error_text=words, billed=False)


def test_sandbox_delivery_delay_comes_from_the_setting_and_paces_its_polling(settings):
    settings.SANDBOX_DELIVERY_SECONDS = 7
    assert SandboxGateway().poll_reports_after == dt.timedelta(seconds=7)
    del settings.SANDBOX_DELIVERY_SECONDS
    assert SandboxGateway().poll_reports_after == dt.timedelta(seconds=2)
    assert SandboxGateway(delivery_seconds=0).poll_reports_after == dt.timedelta(0)


def test_the_sandbox_refuses_an_option_not_given_by_name():
    with pytest.raises(TypeError):
        SandboxGateway(30)  # meant as delivery seconds: refused rather than silently ignored


# --- The contract every backend shares ----------------------------------------------------------


@pytest.mark.parametrize("status,code,billed", [
    ("delivered", "", True),
    ("sent", "", True),
    ("undelivered", "30007", True),  # any other carrier failure stays paid for
    ("undelivered", "30003", False),
    ("undelivered", "30005", False),
    ("undelivered", "30006", False),
    ("failed", "", False),
    ("failed", "30008", False),
])
def test_a_report_leaves_the_message_paid_for_unless_the_provider_does_not_bill_it(status, code, billed):
    assert report_billed(status, code) is billed


def test_a_gateway_error_without_words_says_its_code():
    error = TransientGatewayError(code=20429)
    assert (str(error), error.code, error.text) == ("20429", "20429", "")
    error = PermanentGatewayError("Invalid number", code="21211")
    assert (str(error), error.code, error.text) == ("Invalid number", "21211", "Invalid number")
    assert GatewayError().code == ""


class Recording(BaseGateway):
    def __init__(self, *, fail_open=False, **kwargs):
        super().__init__(**kwargs)
        self.fail_open, self.calls = fail_open, []

    def open(self):
        self.calls.append("open")
        if self.fail_open:
            raise ConnectionError("no route")

    def close(self):
        self.calls.append("close")


def test_a_backend_used_as_a_context_manager_opens_then_closes():
    with Recording() as gateway:
        assert gateway.calls == ["open"]
    assert gateway.calls == ["open", "close"]


def test_a_backend_that_fails_to_open_is_closed_and_the_error_raised():
    gateway = Recording(fail_open=True)
    with pytest.raises(ConnectionError):
        with gateway:
            pytest.fail("the body must not run")
    assert gateway.calls == ["open", "close"]


def test_the_base_backend_can_neither_send_nor_look_up_and_polls_nothing():
    gateway = BaseGateway()
    with pytest.raises(NotImplementedError, match="must override send"):
        gateway.send(sms())
    with pytest.raises(NotImplementedError):
        gateway.find_sent(sms(), since=timezone.now())
    assert gateway.fetch_reports([SentRef(provider_id="X", to="+12025550123")]) == []
    assert gateway.max_in_flight == 1 and gateway.poll_reports_after is None


class Threaded(BaseGateway):
    """Answers each SMS after a short wait, failing those to a number ending in 0; records threads."""

    def __init__(self, max_in_flight, **kwargs):
        super().__init__(**kwargs)
        self.max_in_flight = max_in_flight
        self.lock, self.in_flight, self.most, self.threads = threading.Lock(), 0, 0, set()

    def send(self, message):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.threads.add(threading.current_thread().name)
        time.sleep(0.05)
        with self.lock:
            self.in_flight -= 1
        if message.to.endswith("0"):
            raise PermanentGatewayError("Invalid number", code="21211")
        return SendResult(provider_id=f"P{message.reference}")


def numbered(count):
    return [OutboundSms(reference=str(n), to=f"+1202555012{n}", body="Hello") for n in range(count)]


@pytest.mark.parametrize("max_in_flight", [1, 3])
def test_send_many_answers_in_order_with_the_error_in_place_of_a_failed_message(max_in_flight):
    answers = Threaded(max_in_flight).send_many(numbered(5))
    assert isinstance(answers[0], PermanentGatewayError)
    assert answers[1:] == [SendResult(provider_id=f"P{n}") for n in range(1, 5)]


@pytest.mark.parametrize("max_in_flight", [2, 3])
def test_send_many_keeps_at_most_max_in_flight_calls_at_once_on_its_own_threads(max_in_flight):
    gateway = Threaded(max_in_flight)
    gateway.send_many(numbered(9))
    assert gateway.most == max_in_flight
    assert threading.current_thread().name not in gateway.threads
    assert all(name.startswith("sms-send") for name in gateway.threads)


def test_send_many_sends_two_messages_at_once_when_the_backend_allows_it():
    gateway = Threaded(3)
    gateway.send_many(numbered(2))
    assert gateway.most == 2


@pytest.mark.parametrize("max_in_flight,count", [(1, 4), (3, 1)])
def test_send_many_calls_a_backend_on_the_callers_thread_when_nothing_runs_alongside(max_in_flight, count):
    # A backend that allows one call at a time need not be thread-safe (Django's connections
    # and a plain requests.Session are per thread); one message is not worth a thread either.
    gateway = Threaded(max_in_flight)
    gateway.send_many(numbered(count))
    assert gateway.threads == {threading.current_thread().name}


def test_sandbox_reports_a_due_message_even_after_one_that_is_not_due_yet():
    now = timezone.now()
    refs = [SentRef(provider_id="SB-new", to="+12025550123", sent_at=now),
            SentRef(provider_id="SB-old", to="+12025550123", sent_at=now - dt.timedelta(minutes=1))]
    assert [r.provider_id for r in SandboxGateway(delivery_seconds=30).fetch_reports(refs)] == ["SB-old"]


def test_repeated_delivery_runs_reuse_their_threads_instead_of_piling_up_new_ones():
    # Starting threads for every batch would cost more than the calls they make to a fast provider.
    # Counted by the threads that made the calls, not threading.active_count(): other threads come
    # and go (on a loaded machine the count differed by two and the test failed now and then).
    served = set()

    class Recording(Threaded):
        def send(self, message):
            served.add(threading.current_thread())
            return super().send(message)

    for _ in range(3):
        Recording(11).send_many(numbered(11))
    assert 1 < len(served) <= 11  # three runs of 11 calls, on one pool of at most 11 threads (33 if each made its own)


def test_a_process_starts_one_pool_per_size_on_its_first_batch_and_keeps_it(monkeypatch):
    # A fresh process (a new worker) has no pool yet: its first batch must start one, not fail.
    from smsnotify.gateways import base

    monkeypatch.setattr(base, "_pools", {})
    answers = Threaded(4).send_many(numbered(4))
    assert [a.provider_id for a in answers[1:]] == ["P1", "P2", "P3"]
    pool = base._pools[4]
    Threaded(4).send_many(numbered(4))
    assert base._pools == {4: pool}
    pool.shutdown()


def test_a_forked_process_sends_a_batch_on_threads_of_its_own():
    # A process forked after a batch (a Celery prefork child) inherits the pool but not its threads:
    # handed to that pool, its first batch would wait forever.
    Threaded(3).send_many(numbered(3))
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            answers = Threaded(3).send_many(numbered(3))
            os.write(writer, ",".join(a.provider_id for a in answers[1:]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    try:
        ready, _, _ = select.select([reader], [], [], 10)
        answer = os.read(reader, 64) if ready else b"(no answer in 10 s)"
    finally:
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(reader)
    assert answer == b"P1,P2"


def test_what_a_forked_child_runs_drops_the_parents_pools_and_a_lock_it_may_have_held(monkeypatch):
    from smsnotify.gateways import base

    held = threading.Lock()
    held.acquire()  # a thread of the parent was starting a pool at the fork
    monkeypatch.setattr(base, "_pools", {3: "the parent's pool"})
    monkeypatch.setattr(base, "_pools_lock", held)
    base._forget_pools()  # registered with os.register_at_fork(after_in_child=...)
    assert base._pools == {}
    assert base._pools_lock.acquire(timeout=1)
    base._pools_lock.release()
