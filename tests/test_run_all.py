"""bin/run-all stops everything it started on Ctrl-C, even a program that ignores SIGINT and SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bin" / "run-all"

# Writes its pid, then runs until killed; "stubborn" ignores INT and TERM, as the hung Celery worker did.
DUMMY = """#!/bin/sh
echo $$ > "$1.pid"
[ "$2" = stubborn ] && trap '' INT TERM
while :; do sleep 0.1; done
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _as_from_a_terminal():
    # A terminal's shell starts programs with SIGINT handled normally; a test runner may ignore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_every_program_promptly(tmp_path):
    dummy = tmp_path / "dummy"
    dummy.write_text(DUMMY)
    dummy.chmod(0o755)
    names = {"worker_codes": "polite", "worker_service": "stubborn", "worker_marketing": "polite",
             "worker_housekeeping": "polite", "beat": "polite", "web": "polite"}
    env = {**os.environ, "STOP_TIMEOUT": "2",
           **{name.upper(): f"{dummy} {tmp_path / name} {kind}" for name, kind in names.items()}}
    script = subprocess.Popen([str(SCRIPT)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, preexec_fn=_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 10
        while not all((tmp_path / f"{name}.pid").exists() for name in names):
            assert time.monotonic() < deadline, "the programs did not start"
            time.sleep(0.05)
        time.sleep(0.2)  # the pid files are written before the traps are set
        pids = [int((tmp_path / f"{name}.pid").read_text()) for name in names]

        script.send_signal(signal.SIGINT)
        assert script.wait(timeout=8) == 130
        deadline = time.monotonic() + 2
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in pids if _alive(pid)]
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)


def test_make_run_starts_a_worker_for_every_queue():
    from django.conf import settings

    import re

    consumed = set(re.findall(r" -Q (\S+)", SCRIPT.read_text()))
    assert consumed == {queue.name for queue in settings.CELERY_TASK_QUEUES}
