"""The laptop broker (smsnotify/broker.py): a worker never reads a message before it is written whole."""

import os

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import filesystem

from smsnotify.broker import Transport


@pytest.fixture
def folder(tmp_path):
    for name in ("queue", "processed", "control"):
        (tmp_path / name).mkdir()
    return tmp_path


def _connection(folder, transport):
    return Connection("filesystem://", transport=transport, transport_options={
        "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
        "store_processed": False,
    })


def test_a_message_goes_through_whole(folder):
    queue = Queue("sms.codes", Exchange("sms.codes"), "sms.codes")
    with _connection(folder, "smsnotify.broker:Transport") as conn:
        conn.Producer().publish({"id": 42}, exchange=queue.exchange, routing_key="sms.codes", declare=[queue])
        assert [name for name in os.listdir(folder / "queue") if not name.endswith(".exchange")] != []
        message = queue(conn.default_channel).get(no_ack=True)
    assert message.payload == {"id": 42}


def test_a_reader_between_create_and_write_finds_no_message(folder, monkeypatch):
    """Look into the folder at the moment the writer has its file open: kombu's own transport shows
    the reader an empty `.msg` there (it stopped the worker), ours nothing it would take."""
    seen = {}
    real_open = open

    def spying_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode and str(path).startswith(str(folder / "queue")):
            seen[type_under_test] = [name for name in os.listdir(folder / "queue")
                                     if name.partition(".")[2] == "sms.codes.msg"]
        return handle

    monkeypatch.setattr("builtins.open", spying_open)
    for type_under_test in (filesystem.Transport, Transport):
        channel = _connection(folder, type_under_test).default_channel
        channel._put("sms.codes", {"id": 1})
        assert channel._get("sms.codes") == {"id": 1}  # and once written, it is read whole

    assert len(seen[filesystem.Transport]) == 1  # the race this module closes
    assert seen[Transport] == []
