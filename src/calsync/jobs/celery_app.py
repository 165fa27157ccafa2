"""The Celery app of `calsync worker` and `calsync scheduler`, built from Settings.

The broker settings are chosen so that a sync cut off by a dead worker is picked up by another
within 90 s (docs/scale-out.md has the reasoning): a task is acknowledged only after it ran
(`acks_late`), so a worker that dies leaves its message unacknowledged in Redis; kombu's Redis
transport puts such a message back on the queue once it has been out for `visibility_timeout`
(60 s), and every live worker sweeps for them every `unacked_restore_interval` (5 s, throttle 1).
A worker takes one message per thread at a time (`worker_prefetch_multiplier` 1), so a dead
worker strands few. No result backend: nothing waits on a task's return value."""

from __future__ import annotations

from celery import Celery

from calsync.config import Settings

QUEUE = "calsync"
SYNC_ACCOUNT = "calsync.sync_account"
RENEW_CHANNELS = "calsync.renew_channels"
VISIBILITY_TIMEOUT = 60
RESTORE_INTERVAL = 5


def make_app(settings: Settings) -> Celery:
    """A Celery app on `settings.broker_url` (the tasks register when jobs/tasks.py is imported)."""
    app = Celery("calsync", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "unacked_restore_interval": RESTORE_INTERVAL,
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": 30,  # a worker killed mid-sweep blocks sweeps for 30 s, not 5 min
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_enable_remote_control=False,  # no pidbox/fanout traffic: workers need none
        accept_content=["json"],
        task_serializer="json",
    )
    return app
