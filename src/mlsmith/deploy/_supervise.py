"""``serve``: a bundle's app under uvicorn, in one process or several (``workers``) sharing a port.

With several workers the supervisor binds the port once per worker (``SO_REUSEPORT``, so the kernel
balances connections) and restarts none: a worker that dies stops the service with one line saying
why, so that a broken bundle does not restart in a loop. The app itself is :func:`create_app`.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from .._lifeline import die_with_parent
from ..exceptions import MlsmithError
from ._app import create_app
from ._metrics import MULTIPROC_ENV

__all__ = ["default_workers", "serve"]

logger = logging.getLogger("mlsmith.serve")
#: Whether the kernel spreads a port's connections over several sockets (SO_REUSEPORT on Linux).
_BALANCED_PORTS = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def default_workers() -> int:
    """Server processes ``serve`` starts by default: one per CPU this process may run on (Linux), else one."""
    return len(os.sched_getaffinity(0)) if _BALANCED_PORTS else 1


def _settled(app: FastAPI) -> FastAPI:
    # Everything loaded so far (libraries, the model) lives as long as the process: move it out of
    # the garbage collector's generations, so that a full collection stays short under load.
    gc.collect()
    gc.freeze()
    return app


def _run(app: FastAPI, sock: socket.socket | None = None, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    config = uvicorn.Config(_settled(app), host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=None if sock is None else [sock])


def _worker(options: dict[str, Any], host: str, port: int, parent: int,
            report: multiprocessing.connection.Connection) -> None:
    """One process of ``serve --workers N``: its own app, then its own socket on the shared port.

    With SO_REUSEPORT the kernel spreads new connections over the workers' sockets (one shared
    socket lets whichever worker wakes first take most of them), and a worker takes connections
    only once its model is loaded. The worker stops (gracefully, as on Ctrl-C) when ``parent``
    ends, even killed, so that it does not keep the port; an exception that ends it is sent to
    the parent through ``report`` in one line, for the parent's own message.
    """
    die_with_parent(parent, signal.SIGTERM)
    try:
        app = create_app(**options)
        sock = _socket(host)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        _run(app, sock)
    except Exception as exc:
        report.send(f"{type(exc).__name__}: {exc}")
        raise


def _socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _died(process: multiprocessing.process.BaseProcess, report: multiprocessing.connection.Connection) -> str:
    """Which server worker ended, how, and why if it said: the message that stops the service."""
    what = f"server worker {process.name} (pid {process.pid})"
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (mlsmith never sends it: another process or the out-of-memory killer did, see 'dmesg')" \
            if name == "SIGKILL" else ""
        return f"{what} was killed by {name}{hint}; the service stopped its other workers. Start it again."
    if report.poll():
        return f"{what} failed with {report.recv()}; the service stopped its other workers."
    return (f"{what} exited with code {process.exitcode} without raising (uvicorn logs its own errors above); "
            "the service stopped its other workers.")


def serve(bundle: str | Path, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None,
          **options: Any) -> None:
    """Serve a bundle over HTTP with uvicorn until interrupted.

    Parameters
    ----------
    bundle : str or pathlib.Path
        The bundle folder.
    host : str, default="127.0.0.1"
        The address to listen on.
    port : int, default=8000
        The port to listen on.
    workers : int, optional
        Server processes, each with its own copy of the model and its own socket on the
        port (SO_REUSEPORT; more than one needs Linux); they log predictions to the same SQLite
        file and ``/metrics`` sums over all of them. Default: one per CPU (:func:`default_workers`).
    **options
        As in :func:`create_app` (``runtime``, ``challenger``, ``mode``, ``log``, ...).

    Examples
    --------
    ``serve("runs/<id>/model", port=8000)`` serves until interrupted; the options are checked
    before any worker starts:

    >>> serve("runs/x/model", workers=0)
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.MlsmithError: workers must be at least 1; got 0.
    """
    workers = default_workers() if workers is None else workers
    options = {**options, "host": host}  # the app checks Host headers against the address it listens on
    if workers < 1:
        raise MlsmithError(f"workers must be at least 1; got {workers}.")
    if workers > 1 and not _BALANCED_PORTS:
        raise MlsmithError("several workers need Linux's SO_REUSEPORT, which spreads connections over them; "
                           "serve with --workers 1 here.")
    app = create_app(bundle, **options)  # a bad bundle or option fails here, once, before any worker starts
    if workers == 1:
        _run(app, host=host, port=port)
        return
    if app.state.serve.log is not None:
        app.state.serve.log.close()
    del app
    with _socket(host) as probe:
        try:
            probe.bind((host, port))  # the port is free: fail here rather than in every worker
        except OSError as exc:
            raise MlsmithError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port.") from None
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="mlsmith-metrics-") as metrics_dir:
        os.environ[MULTIPROC_ENV] = metrics_dir  # read by prometheus_client when a worker imports it
        pipes = [context.Pipe(duplex=False) for _ in range(workers)]
        processes = [context.Process(target=_worker, args=({"bundle": bundle, **options}, host, port, os.getpid(), w),
                                     name=f"mlsmith-serve-{i}") for i, (_r, w) in enumerate(pipes)]
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            for process in processes:
                process.start()
            ended = multiprocessing.connection.wait([p.sentinel for p in processes])
            for process in processes:
                if process.sentinel in ended:
                    process.join()  # its sentinel closes a moment before its exit code can be read
            failed = [(p, r) for p, (r, _w) in zip(processes, pipes) if p.exitcode]
            if failed:
                raise MlsmithError(_died(*failed[0]))
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            del os.environ[MULTIPROC_ENV]
            for process in processes:
                if process.is_alive():
                    process.terminate()  # uvicorn shuts down gracefully on SIGTERM
            for process in processes:
                process.join(30)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
