"""When syncs run: the in-process runner (default) and, at scale, Celery tasks."""
