"""Gunicorn, driven from Python so ``ganglion run`` and ``ganglion web`` need no separate gunicorn config.

The app is created in each worker after the fork (no preload), so database pools and doorbell threads belong to
the process that uses them.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from config import HomeserverConfig
from web.deps import installed_deps


class GunicornServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._app_factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app_factory()

    def run(self) -> None:
        """Serve, with everything the arbiter has allocated so far (the imports, the migrations' modules) frozen
        out of the garbage collector first: a worker forked from it then shares those pages with it instead of
        copying each one the first time its collector walks the objects there (each object's GC header is
        written during a collection). Measured idle: bench/README.md, "Idle memory"."""
        gc.collect()
        gc.freeze()
        super().run()


def release_worker(_arbiter: object, worker: Any) -> None:
    """gunicorn's ``worker_exit`` hook: in a worker that stopped serving, while gevent still runs, let go of what
    the app holds. Celery keeps every result a send waited on in a reference cycle (its ``on_ready`` promise holds
    the result), so those left uncollected at exit were finalised with the interpreter, in a dying greenlet, each
    logging "greenlet is being finalized" as it tried to unsubscribe. Collected here they unsubscribe normally;
    then the doorbell's subscription, the outbound federation connections and the database pool close. (The
    arbiter calls the hook too, for a worker it found dead; that worker object holds no app.)"""
    app = getattr(worker, "wsgi", None)
    deps = installed_deps(app) if app is not None else None
    if deps is None:
        return
    gc.collect()
    deps.doorbell.close()
    deps.federation.close()
    deps.database.dispose()
    _exit_without_teardown()


def _exit_without_teardown() -> None:
    """A worker leaving normally (``sys.exit(0)`` in flight) skips the interpreter's teardown: what it holds is
    released above, and tearing down the modules of a web worker costs a second or more of CPU on a loaded
    machine, which counts against the five seconds honcho (or systemd's stop timeout) gives the whole process
    before SIGKILL. Any other exit keeps its code and its teardown."""
    leaving = sys.exc_info()[1]
    if isinstance(leaving, SystemExit) and leaving.code in (0, None):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def tls_options(config: HomeserverConfig) -> dict[str, Any]:
    """gunicorn's ``certfile``/``keyfile`` when the process's listeners say ``tls: true`` (config checks that all
    of them do, and that both paths are set): the monolith and web workers then serve HTTPS themselves."""
    if not any(listener.tls for listener in config.http_listeners):
        return {}
    return {"certfile": config.tls_certificate_path, "keyfile": config.tls_private_key_path}
