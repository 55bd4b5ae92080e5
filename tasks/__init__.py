"""Asynchronous work: the Celery app, the routing of tasks to queues, the task bodies and the dispatcher.

The web tier imports only :mod:`tasks.api`. Task bodies are plain functions ``body(context, **kwargs)``; the
dispatcher runs them in-process (monolith) or sends them to their queue (workers).
"""
