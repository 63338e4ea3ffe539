"""The naive layout bench_latency.py measures the lanes against: one Celery queue for everything.

Most Django projects run one queue: every delivery task (a blast's and an order's alike), the
bulk fan-out and beat's tasks go into it, and every worker takes from it, oldest first. The
workers and beat start with ``-A bench.one_queue`` instead of ``-A smsnotify``; the process that
writes the texts calls ``one_queue()``. Only where tasks wait changes, not what they do.
"""

from __future__ import annotations

from celery.signals import task_prerun
from kombu import Queue

from smsnotify.celery import app

ONE_QUEUE = "sms.all"

app.conf.task_default_queue = ONE_QUEUE  # beat's tasks
app.conf.task_queues = [Queue(ONE_QUEUE)]


def one_queue(**_signal) -> None:
    """Every queue a caller names (a lane's, the fan-out's) is the one queue."""
    from campaigns.tasks import bulk_fan_out_task
    from smsnotify import outbox

    outbox.delivery_queue = lambda lane: ONE_QUEUE
    bulk_fan_out_task.queue, bulk_fan_out_task._exec_options = ONE_QUEUE, None


task_prerun.connect(one_queue)  # in whichever process runs a task (prefork children, solo workers)
