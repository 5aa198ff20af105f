"""The local worker processes: started warm, forked from a server, stopped at the end; work beside the run.

The local workers are loky's (joblib's default backend); the CLI forks them from a server that
imports the model libraries once (:func:`fork_workers_from_server`), and :func:`warm_up` starts them
before any budget's clock does. :func:`in_background` starts other work beside this process (the
data guards, the report's figures); :func:`stop_workers` kills the pool at the end of a program.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from multiprocessing import forkserver
from typing import Any, Callable, Generator, Iterator

from joblib import Parallel, delayed, effective_n_jobs
from joblib.externals.loky import reusable_executor
from joblib.externals.loky.backend import context

from ._forkserver import server_environment

__all__ = ["WORKER_MODULES", "Background", "fork_workers_from_server", "in_background", "stop_workers", "warm_up"]


#: What every CV worker needs: imported once by the server the CLI's workers are forked from (see
#: :func:`fork_workers_from_server`), or else by each worker as it starts. One not installed is skipped.
WORKER_MODULES = ("pandas", "sklearn.ensemble", "lightgbm", "xgboost", "mlsmith.catalog", "mlsmith.metrics",
                  "mlsmith.guards", "mlsmith.tuning")
#: The thread counts of a worker's native libraries: one each, since the workers share the cores.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _warm() -> int:
    for name in WORKER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return 0


def fork_workers_from_server() -> bool:
    """From now on, fork the local workers from a server that imports :data:`WORKER_MODULES` once.

    Spawned workers each import scikit-learn, SciPy, pandas, LightGBM and XGBoost (~2 CPU-seconds
    apiece) while this process imports the same; on two cores the three compete and the run waits.
    The server starts at once, imports them once beside this process and then forks a worker in
    milliseconds, also after a budget killed the workers. It is single-threaded and never runs a
    model, so the forks are safe (OpenMP's thread pool does not survive a fork); its workers get one
    thread per native library, as loky gives them.

    For a program whose main module is safe to import again (the CLI): like multiprocessing's
    ``spawn``, a worker imports the main script, where loky's own workers do not. Returns whether
    the server is in use: not off Linux (fork without exec is not safe on macOS; Windows has no
    fork), nor where loky's start method was set by someone else.

    Examples
    --------
    A switch for the whole process, made once at the start of a program:

    >>> from mlsmith._workers import fork_workers_from_server
    >>> fork_workers_from_server()  # doctest: +SKIP
    True
    """
    if _from_server():
        return True
    if context.get_start_method() is not None or not sys.platform.startswith("linux"):
        return False
    # The CLI's console script is the main module the workers import: its modules are imported here.
    # _forkserver ties the server to this process and its workers to the server, so that none outlives
    # a kill -9, and gives them this process's loky resource tracker, which counts the users of the
    # memory-mapped arrays joblib hands the workers.
    forkserver.set_forkserver_preload(["mlsmith._forkserver", *WORKER_MODULES, "mlsmith.cli"])
    server_env = {**dict.fromkeys(_THREAD_VARS, "1"), **server_environment()}
    saved = {name: os.environ.get(name) for name in server_env}
    os.environ.update(server_env)  # the server's environment is its workers'
    try:
        forkserver.ensure_running()  # returns at once: the server imports while this process goes on
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    context.set_start_method("forkserver")
    return True


def _from_server() -> bool:
    return context.get_start_method() == "forkserver"


#: Warm-ups started without waiting, not yet waited for (at most one).
_pending: list[Iterator[int]] = []


def warm_up(n_jobs: int = -1, wait: bool = True) -> Callable[[], None]:
    """Start the workers with the model libraries imported, so that no budget pays for it.

    Each worker imports them as it starts; with ``wait=False`` they start while this process goes
    on and the returned function waits for them. Workers forked from the server of
    :func:`fork_workers_from_server` have them already: with ``wait=False`` nothing starts, and they
    are forked when first used. A second call while one is pending starts nothing new. A budget
    that stopped a family killed its workers: the next family's clock starts after ``warm_up()``.

    Examples
    --------
    >>> ready = warm_up(n_jobs=1, wait=False)
    >>> ready()
    """
    workers = max(1, effective_n_jobs(n_jobs))
    if workers == 1:
        return lambda: None
    if not wait and _from_server():
        return lambda: None
    if not _pending:
        _pending.append(Parallel(n_jobs=workers, return_as="generator")(delayed(_warm)() for _ in range(workers)))

    def ready() -> None:
        while _pending:
            for _ in _pending.pop():
                pass

    if wait:
        ready()
    return ready


def stop_workers() -> None:
    """Kill the local worker processes, if any were started, and remove their temporary files.

    For the end of a program, whose workers would otherwise finish their queues and exit one by
    one; a later parallel call starts new ones.

    Examples
    --------
    >>> stop_workers()
    """
    # loky's public get_reusable_executor() gets *or creates* the pool (creating one starts a resource
    # tracker process, only to stop it again) and a plain shutdown leaves joblib's memory-mapped
    # temporary folder behind: only joblib's MemmappingExecutor.terminate removes it. So the pool is
    # read where loky keeps it, and left alone when there is none.
    executor = getattr(reusable_executor, "_executor", None)  # the pool joblib's loky backend reuses
    if executor is not None:
        executor.terminate(kill_workers=True)


class Background:
    """Calls started on the worker processes: call it to wait for their results, in order; or cancel them.

    Made by :func:`in_background`, or by :meth:`here` for calls that run in this process.
    """

    def __init__(self, results: Callable[[], Iterator[Any]] | Generator[Any, None, None]):
        self._results = results

    @classmethod
    def here(cls, func: Callable[..., Any], *calls: tuple) -> "Background":
        """The calls not started: they run in this process when their results are asked for."""
        return cls(lambda: (func(*args) for args in calls))

    def __call__(self) -> list[Any]:
        """Wait for the results, in order (computing them here if they were not started)."""
        return list(self._results() if callable(self._results) else self._results)

    def cancel(self) -> None:
        """Stop the calls still running and drop every result (for a run that failed meanwhile)."""
        if callable(self._results):
            return
        with warnings.catch_warnings():  # joblib warns of the calls cancelled and results dropped: the point here
            warnings.filterwarnings("ignore", category=UserWarning, module=r"joblib\.parallel")
            self._results.close()


def in_background(func: Callable[..., Any], *calls: tuple) -> Background:
    """Start ``func(*args)`` for each ``args`` in ``calls`` on the worker processes and go on.

    The run uses it for work that keeps the other cores busy while this process does its own
    (drawing the report's figures while the model bundle is saved). Calling the returned
    :class:`Background` waits for the results, in order, and raises the calls' exceptions; a run
    that fails meanwhile cancels it. On one core the calls run in this process when their results
    are asked for.

    Examples
    --------
    >>> results = in_background(max, (1, 2), (4, 3))
    >>> results()
    [2, 4]
    """
    workers = effective_n_jobs(-1)
    if workers == 1:  # one core: nothing runs beside this process
        return Background.here(func, *calls)
    return Background(Parallel(n_jobs=workers, return_as="generator")(delayed(func)(*args) for args in calls))

