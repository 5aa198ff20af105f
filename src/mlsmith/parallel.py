"""Where the fits run: both local cores by default, or a Dask cluster, under a wall-clock budget.

Every cross-validation fit of stages 5 and 6 goes through :func:`fit_folds`, which sends a
pipeline's folds to joblib at once, or in rounds of as many folds as there are workers where it may
have to stop between folds, or through :func:`fit_many`, which sends many pipelines' folds at once;
the evaluation's out-of-fold predictions come from the same fold fits (:func:`out_of_fold`).
Inside :func:`compute_backend` joblib's backend is Dask (``cluster="local"`` or ``"local:N"`` starts a
LocalCluster of worker processes, ``"tcp://host:8786"`` joins a running scheduler; :func:`dask_client`),
so the same code scales out.
Results do not depend on where a fold ran: each fold is a seeded fit on fixed rows, and results
are read back in fold order.

A deadline stops the work that is still running (joblib's timeout kills local workers and
cancels Dask futures) and raises :class:`BudgetExceeded`: a family that runs over is not waited for.

The local workers are loky's; the CLI forks them from a server that imports the model libraries
once (:func:`fork_workers_from_server`). :func:`in_background` starts other work beside this
process (the data guards, the report's figures).
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from ._experiment import CVSetup

__all__ = ["FIT_PEAK_FACTOR", "MEMORY_CHECK_ROWS", "MEMORY_SHARE", "TRAIN_SCORE_ROWS", "Background", "BudgetExceeded",
           "FoldResult", "RunBudget", "available_memory", "compute_backend", "dask_client", "fit_bytes", "fit_folds",
           "fit_many", "fold_arrays", "fork_workers_from_server", "in_background", "out_of_fold", "stop_workers",
           "warm_up", "workers_for_memory"]


class BudgetExceeded(Exception):
    """The time budget ran out; ``done`` folds had finished."""

    def __init__(self, done: int):
        super().__init__(f"time budget spent with {done} folds finished")
        self.done = done


class RunBudget:
    """A run's wall-clock budget (``constraints.time_budget_s``), shared out stage by stage.

    Each stage that may be bounded or left out asks what remains once the stages after it have their
    reserve; what was left out, or bounded, is recorded in :attr:`cuts` for the report. Without a
    budget (``seconds=None``) every answer is "no limit".

    Examples
    --------
    >>> budget = RunBudget(None)
    >>> budget.left(), budget.allows("learning curves", 1e9)
    (None, True)
    >>> budget = RunBudget(10.0)
    >>> budget.allows("learning curves", 60.0), budget.cuts
    (False, ['learning curves: not run, about 60 s needed and 10 s left of the 10 s time budget'])
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.start = time.perf_counter()
        self.cuts: list[str] = []

    def left(self, reserve: float = 0.0) -> float | None:
        """Seconds left after ``reserve`` (never negative), or None without a budget."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - (time.perf_counter() - self.start) - reserve)

    def allows(self, stage: str, cost_s: float, reserve: float = 0.0) -> bool:
        """Whether ``stage``, estimated at ``cost_s``, fits in what is left after ``reserve``; if not, it is cut."""
        left = self.left(reserve)
        if left is None or cost_s <= left:
            return True
        self.cuts.append(f"{stage}: not run, about {cost_s:.0f} s needed and {left:.0f} s left of the "
                         f"{self.seconds:g} s time budget")
        return False

    def bound(self, stage: str, own: float | None, share: float) -> float | None:
        """A stage's own limit ``own`` (None: none), lowered to ``share`` seconds, recorded if it was."""
        if self.seconds is None or (own is not None and own <= share):
            return own
        share = round(share, 1)
        self.cuts.append(f"{stage}: bounded to {share:g} s of the {self.seconds:g} s time budget")
        return share


#: A table of at least this many cells (rows x columns) gets a time budget when the spec sets none:
#: below it a whole run takes minutes at most on two cores, and a budget would only make the
#: comparison go family by family instead of queueing every fold at once.
DEFAULT_BUDGET_CELLS = 2_000_000
#: The default budget: a floor, one second per this many cells, and a cap, so that a 10M-row table
#: does not run for a day without saying so. Issue 19's targets on two cores: 1M x 20 cells within
#: 10 minutes, 10M x 20 within an hour, the stages after the budgeted ones (the evaluation's fit on
#: every row, the bundle) included: 500 s and 2,300 s.
DEFAULT_BUDGET_FLOOR_S, DEFAULT_BUDGET_CAP_S, CELLS_PER_SECOND = 300.0, 3000.0, 100_000


def default_time_budget(n_rows: int, n_columns: int) -> float | None:
    """The time budget a run gets from its table's size when ``constraints.time_budget_s`` is not set.

    None (no budget) below :data:`DEFAULT_BUDGET_CELLS` cells.

    Examples
    --------
    >>> default_time_budget(569, 31) is None, default_time_budget(327_346, 14), default_time_budget(10_000_000, 20)
    (True, 345.8, 2300.0)
    """
    cells = n_rows * max(n_columns, 1)
    if cells < DEFAULT_BUDGET_CELLS:
        return None
    return round(min(DEFAULT_BUDGET_CAP_S, DEFAULT_BUDGET_FLOOR_S + cells / CELLS_PER_SECOND), 1)


#: Share of the memory available when the fits start that the fits running at once may hold together:
#: the rest is for this process and for others on the machine.
MEMORY_SHARE = 0.5


def available_memory() -> int:
    """Bytes of memory available to new work now (Linux's ``MemAvailable``; else the free pages)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


#: Past this many rows, fits are run as many at once as the memory allows (:func:`workers_for_memory`);
#: below it, on every worker.
MEMORY_CHECK_ROWS = 100_000
#: A fit's peak memory over the float64 matrix its preprocessing outputs: 2.75 measured with histogram
#: gradient boosting on 400,000 rows of the generated table (45 columns: 377 MB at peak for 137 MB).
FIT_PEAK_FACTOR = 3.0


def fit_bytes(pipeline, X, y: np.ndarray) -> float:
    """The memory one fit of ``pipeline`` on every row of ``X`` holds at its peak, estimated: its own
    copy of the rows, and :data:`FIT_PEAK_FACTOR` times the matrix its preprocessing gives them, whose
    width is read from the preprocessing fitted on 2,000 rows spread over ``X``. A pipeline that is
    not preprocessing then a model is counted as its copy of the rows."""
    from sklearn.base import clone  # here, not at the top: the CLI starts the workers before importing sklearn

    row_bytes = X.memory_usage(index=False).sum() / max(len(X), 1)
    steps = getattr(pipeline, "steps", [])
    width = 0
    if len(steps) > 1:
        step = max(1, len(X) // 2000)
        sample = X.iloc[::step]
        width = clone(pipeline[:-1]).fit(sample, y[::step]).transform(sample.iloc[:5]).shape[1]
    return len(X) * (FIT_PEAK_FACTOR * 8 * width + row_bytes)


def _memory_workers(n_jobs: int | None, pipelines: list, X, y: np.ndarray) -> int:
    """The workers for fits of ``pipelines`` on ``X``: every one below :data:`MEMORY_CHECK_ROWS` rows,
    else as many as :func:`workers_for_memory` allows for the largest of them."""
    workers = max(1, effective_n_jobs(n_jobs))
    if workers == 1 or len(X) <= MEMORY_CHECK_ROWS:
        return workers
    return workers_for_memory(workers, max(fit_bytes(p, X, y) for p in pipelines))


def workers_for_memory(n_jobs: int, fit_bytes: float, available: float | None = None) -> int:
    """How many fits of ``fit_bytes`` each may run at once: as many as ``n_jobs`` gives, down to one, so
    that together they hold at most :data:`MEMORY_SHARE` of the ``available`` memory (default: now's).

    On two cores, two fits of a gradient-boosting model on millions of rows take twice the memory of
    one for little gain in time: one worker's model uses both cores' threads when it runs alone.

    Examples
    --------
    >>> workers_for_memory(2, fit_bytes=5e9, available=16e9), workers_for_memory(2, 1e9, 16e9)
    (1, 2)
    """
    workers = max(1, effective_n_jobs(n_jobs))
    available = available_memory() if available is None else available
    return max(1, min(workers, int(MEMORY_SHARE * available // max(fit_bytes, 1.0))))


#: The environment of the worker processes of a LocalCluster that :func:`dask_client` starts.
WORKER_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system"}


@contextmanager
def dask_client(cluster: str) -> Iterator[Any]:
    """A Dask client of ``cluster``, closed (with the cluster it started) on leaving.

    ``"local"`` starts a LocalCluster of one worker *process* per core, ``"local:N"`` one of N;
    each worker runs one task at a time (every fit is single-threaded) and may use an equal share of
    this machine's memory. An address (``tcp://host:8786``) joins a running scheduler instead.

    Raises
    ------
    MlsmithError
        Dask is not installed, ``cluster`` is neither form, or the scheduler cannot be reached.
    """
    from .exceptions import MlsmithError

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a test dependency
        raise MlsmithError(
            f"--cluster {cluster} needs Dask; install it with 'pip install \"mlsmith[dask]\"'."
        ) from None
    local = None
    if cluster == "local" or cluster.startswith("local:"):
        import os

        count = cluster.partition(":")[2]
        if count and not (count.isdigit() and int(count) > 0):
            raise MlsmithError(f"--cluster local:N needs a positive number of worker processes; got '{cluster}'. "
                               "Use e.g. local:3.")
        # Arrow's default pool (mimalloc) keeps what a worker freed after reading Parquet: its memory
        # would count against the worker's limit as if still held. The system allocator returns it.
        local = LocalCluster(n_workers=int(count) if count else os.cpu_count() or 1, threads_per_worker=1,
                             processes=True, memory_limit="auto", dashboard_address=":0", env=WORKER_ENV)
        address = local
    elif cluster.startswith(("tcp://", "tls://", "inproc://")):
        address = cluster
    else:
        raise MlsmithError(f"--cluster must be 'local', 'local:N' or a scheduler address like tcp://host:8786; "
                           f"got '{cluster}'.")
    try:
        client = Client(address, timeout="20s")
    except OSError as exc:
        if local is not None:
            local.close()
        raise MlsmithError(f"cannot reach the Dask scheduler at '{cluster}' ({exc}); start it or check the address.") from None
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()


@contextmanager
def compute_backend(cluster: Any = None) -> Iterator[str]:
    """Run the joblib work inside on ``cluster`` (None: local processes, both cores by default).

    ``cluster`` is what :func:`dask_client` takes, or a Dask client already connected (used, not
    closed). Yields a description of the backend (recorded in the run's results).

    Examples
    --------
    >>> with compute_backend(None) as where:
    ...     where.startswith("local")
    True
    """
    if not cluster:
        import os

        yield f"local ({os.cpu_count()} cores)"
        return
    from contextlib import nullcontext

    from joblib import parallel_config

    with dask_client(cluster) if isinstance(cluster, str) else nullcontext(cluster) as client:
        threads = client.nthreads()
        with parallel_config(backend="dask", client=client):
            where = "local" if client.cluster is not None else client.scheduler.address
            yield f"dask ({where}, {len(threads)} worker processes, {sum(threads.values())} threads)"


#: What every CV worker needs: imported once by the server the CLI's workers are forked from (see
#: :func:`fork_workers_from_server`), or else by each worker as it starts. One not installed is skipped.
WORKER_MODULES = ("pandas", "sklearn.ensemble", "lightgbm", "xgboost", "mlsmith.catalog", "mlsmith.metrics",
                  "mlsmith.guards", "mlsmith.tuning")
#: The thread counts of a worker's native libraries: one each, since the workers share the cores.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _warm() -> int:
    import importlib

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

    >>> from mlsmith.parallel import fork_workers_from_server
    >>> fork_workers_from_server()  # doctest: +SKIP
    True
    """
    import os
    import sys

    from joblib.externals.loky.backend import context

    if _from_server():
        return True
    if context.get_start_method() is not None or not sys.platform.startswith("linux"):
        return False
    from multiprocessing import forkserver

    from ._forkserver import server_environment

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
    from joblib.externals.loky.backend import context

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
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)  # the pool joblib's loky backend reuses
    if executor is not None:
        executor.terminate(kill_workers=True)


class Background:
    """Calls started on the worker processes: call it to wait for their results, in order; or cancel them.

    Made by :func:`in_background`, or by :meth:`here` for calls that run in this process.
    """

    def __init__(self, results: Callable[[], Iterator[Any]] | Iterator[Any]):
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


@dataclass
class FoldResult:
    """One fitted fold: its scores, timings and (when asked) the held-out rows' predictions.

    ``predictions`` are what a decision threshold or a score is computed from: the positive class's
    probability for a binary classifier, the class probabilities for a multiclass one, the
    predicted values for a regressor (see :func:`_predictions`).
    """

    test_scores: dict[str, float]
    train_scores: dict[str, float]
    fit_time_s: float
    score_time_s: float
    latency_ms: float | None = None
    test_index: np.ndarray | None = None
    predictions: np.ndarray | None = None
    train_index: np.ndarray | None = None  # the training rows scored (see _training_sample)
    train_predictions: np.ndarray | None = None
    #: each timed one-row prediction's CPU and wall ms (``cpu_ms``, ``wall_ms``); latency_ms is the CPU median
    latency_samples: dict[str, list[float]] | None = None


class _Outputs:
    """A fitted model whose outputs are computed once per input table and shared by every metric.

    A classifier's labels are the most probable class of ``predict_proba``, as the saved model
    predicts a multiclass target (see :func:`mlsmith.evaluation.model_outputs`; a binary one is
    then judged at its own threshold, chosen out of fold), so that every family's labels follow its
    probabilities (an SVM's ``predict`` would follow its decision function instead).
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def _output(self, method: str, X) -> np.ndarray:
        key = (method, id(X))
        if key not in self._cache:
            self._cache[key] = getattr(self.estimator, method)(X)
        return self._cache[key]

    def predict_proba(self, X) -> np.ndarray:
        return self._output("predict_proba", X)

    def predict(self, X) -> np.ndarray:
        if hasattr(self.estimator, "predict_proba"):
            return self.estimator.classes_[self.predict_proba(X).argmax(axis=1)]
        return self._output("predict", X)


def _predictions(scored: _Outputs, X) -> np.ndarray:
    """A fitted model's predictions of ``X``: the positive class's probability (two classes), the
    class probabilities (more), or the predicted values (a regressor)."""
    if not hasattr(scored.estimator, "predict_proba"):
        return scored.predict(X)
    proba = scored.predict_proba(X)
    return proba[:, 1] if proba.shape[1] == 2 else proba


def _fit_one(pipeline, X, y, train, test, scorers: dict[str, Callable], train_metric: str | None,
             want_predictions: bool, want_latency: bool) -> FoldResult:
    from sklearn.base import clone  # here, not at the top: the CLI starts the workers before importing sklearn

    with warnings.catch_warnings():
        # Families that cannot converge on a fold, or see a constant feature there, still give a score.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        X_train, X_test = X.iloc[train], X.iloc[test]
        start = time.perf_counter()
        est = clone(pipeline).fit(X_train, y[train])
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        scored = _Outputs(est)  # one pass of the pipeline per split, however many metrics read it
        test_scores = {m: float(s(scored, X_test, y[test])) for m, s in scorers.items()}
        score_time = time.perf_counter() - start
        seen = _training_sample(train, len(test), y) if train_metric else train
        X_seen = X_train if len(seen) == len(train) else X.iloc[seen]
        train_s = {train_metric: float(scorers[train_metric](scored, X_seen, y[seen]))} if train_metric else {}
        samples = _latency_samples(est, X_test) if want_latency else None
        latency = None if samples is None else float(np.median(samples["cpu_ms"]))
        if not want_predictions:
            return FoldResult(test_scores, train_s, fit_time, score_time, latency, latency_samples=samples)
        # the training rows' predictions too when they are scored: a threshold is applied to both
        seen_predictions = _predictions(scored, X_seen) if train_metric else None
    return FoldResult(test_scores, train_s, fit_time, score_time, latency, np.asarray(test),
                      _predictions(scored, X_test), np.asarray(seen) if train_metric else None, seen_predictions,
                      samples)


#: A fold's training score uses every training row up to this many (or up to its test rows' count,
#: if larger); past that, a sample of that many.
TRAIN_SCORE_ROWS = 1000


def _training_sample(train: np.ndarray, n_test: int, y: np.ndarray) -> np.ndarray:
    """The training rows a fold's training score is measured on: all, or a sample past a size.

    The training score only shows the gap to the validation score, so it needs the validation
    score's precision, not more: with 5 folds, scoring every training row would predict four times
    the rows the validation does. Past ``max(n_test, TRAIN_SCORE_ROWS)`` rows, a stratified sample of
    that many (classes are integer codes; rare ones are kept) with a fixed seed, the same in every run.
    """
    n = max(n_test, TRAIN_SCORE_ROWS)
    if len(train) <= n:
        return train
    from sklearn.utils import resample

    stratify = y[train] if y.dtype.kind in "iub" else None
    return np.sort(resample(train, n_samples=n, replace=False, stratify=stratify, random_state=0))


def _latency_samples(est, X) -> dict[str, list[float]]:
    """Milliseconds of repeated one-row predictions (what a single online request costs)."""
    from ._latency import one_row_latency  # not at the top: the CV workers start before pandas is imported

    return one_row_latency(est.predict, X.iloc[:1])


def fit_folds(
    pipeline,
    X,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scorers: dict[str, Callable],
    n_jobs: int = -1,
    deadline: float | None = None,
    train_metric: str | None = None,
    want_predictions: bool = False,
    want_latency: bool = False,
    after_fold: Callable[[int, FoldResult], bool] | None = None,
) -> list[FoldResult]:
    """Fit and score ``pipeline`` on each fold; in rounds of as many folds as workers if it may stop early.

    Parameters
    ----------
    scorers
        Metric name -> ``scorer(model, X, y)`` (see :func:`mlsmith.metrics.scorer`). The model
        they get answers ``predict`` and ``predict_proba``, each computed once per split.
    deadline
        A ``time.perf_counter()`` value; work still running then is stopped and
        :class:`BudgetExceeded` raised.
    train_metric
        Also score this metric on the training rows of each fold (past
        ``max(test rows, TRAIN_SCORE_ROWS)``, a stratified sample of that many: enough to show the gap).
    want_predictions, want_latency
        Also return the held-out rows' predictions (see :class:`FoldResult`; and the training
        rows' with ``train_metric``), and the times of repeated one-row predictions (and their median).
    after_fold
        Called with (fold number, result) in fold order; returning True stops early
        (a pruned trial). The folds it sees do not depend on how many workers ran them.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.model_selection import KFold
    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": np.arange(20.0)}); y = 2 * X["x"].to_numpy()
    >>> folds = list(KFold(4).split(X))
    >>> from mlsmith.metrics import scorer
    >>> res = fit_folds(LinearRegression(), X, y, folds, {"r2": scorer("r2", "regression")}, n_jobs=1)
    >>> [round(r.test_scores["r2"], 6) for r in res]
    [1.0, 1.0, 1.0, 1.0]
    """
    workers = _memory_workers(n_jobs, [pipeline], X, y)
    # Rounds are needed only to stop between folds (a deadline, a pruned trial); otherwise one dispatch.
    step = workers if deadline is not None or after_fold is not None else len(folds)
    results: list[FoldResult] = []
    for start in range(0, len(folds), step):
        batch = folds[start:start + step]
        timeout = None
        if deadline is not None:
            timeout = deadline - time.perf_counter()
            if timeout <= 0:
                raise BudgetExceeded(len(results))
        # Every fold's model times one-row predictions: pooled, their median is the family's latency.
        # A fold that raises hands its exception back: raised inside joblib, it would kill the workers
        # (restarting them costs seconds), and which fold's error came first would depend on timing.
        jobs = (delayed(_fit_caught)(pipeline, X, y, tr, te, scorers, train_metric, want_predictions, want_latency)
                for tr, te in batch)
        try:
            # A single worker runs in this process, where nothing can be stopped: no timeout then.
            out = Parallel(n_jobs=workers, timeout=timeout if workers > 1 else None)(jobs)
        except (TimeoutError, multiprocessing.TimeoutError):
            raise BudgetExceeded(len(results)) from None
        kept, stopped = _until_stopped(out, after_fold, first=start)
        if isinstance(kept, Exception):
            raise kept
        results += kept
        if stopped:
            return results
        if deadline is not None and time.perf_counter() > deadline and len(results) < len(folds):
            raise BudgetExceeded(len(results))
    return results


def _fit_caught(*args) -> FoldResult | Exception:
    try:
        return _fit_one(*args)
    except Exception as exc:  # handed back, so that one failing pipeline does not stop the others
        return exc


def fit_many(
    pipelines: list,
    X,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scorers: dict[str, Callable],
    n_jobs: int = -1,
    train_metric: str | None = None,
    want_predictions: bool = False,
    want_latency: bool = False,
    after_fold: Callable[[int, FoldResult], bool] | None = None,
) -> Iterator[list[FoldResult] | Exception]:
    """Fit every pipeline on every fold in one dispatch; yield each pipeline's results in order.

    Without a deadline there is no reason to wait for a pipeline's last fold before starting the
    next pipeline: all the fits are queued at once and the workers stay busy (five folds on two
    workers would otherwise leave one idle a third of the time). A pipeline whose fold raised
    yields that exception instead of its results. Arguments are as in :func:`fit_folds`, except:

    after_fold : called with (fold number, result) in fold order for each pipeline in turn, as its
        results are read (so the caller may act on one pipeline before the next is judged);
        returning True ends that pipeline's results there, as :func:`fit_folds` would have stopped.
        Its later folds were fitted all the same and are dropped, and so is an exception of theirs.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from sklearn.model_selection import KFold
    >>> import pandas as pd
    >>> from mlsmith.metrics import scorer
    >>> X = pd.DataFrame({"x": np.arange(20.0)}); y = 2 * X["x"].to_numpy()
    >>> out = fit_many([LinearRegression(), Ridge()], X, y, list(KFold(4).split(X)),
    ...                {"r2": scorer("r2", "regression")}, n_jobs=1)
    >>> [len(results) for results in out]
    [4, 4]
    """
    workers = _memory_workers(n_jobs, pipelines, X, y)
    jobs = (delayed(_fit_caught)(pipeline, X, y, tr, te, scorers, train_metric, want_predictions, want_latency)
            for pipeline in pipelines for tr, te in folds)
    out = Parallel(n_jobs=workers, return_as="generator")(jobs)
    for _ in pipelines:
        yield _until_stopped([next(out) for _ in folds], after_fold)[0]


def out_of_fold(pipeline, setup: CVSetup, *, fit_also: list[tuple[Any, np.ndarray]] | tuple = ()
                ) -> tuple[list[FoldResult], list[Any]]:
    """The held-out predictions of ``pipeline`` on each fold of ``setup``, and ``pipeline`` fitted on each
    ``(X, y)`` of ``fit_also``: what the final evaluation needs, in one dispatch.

    Each fold is fitted as :func:`fit_folds` fits it (``want_predictions``, no scores). The whole
    fits are dispatched first, with the folds, so that they fill the workers the folds leave idle
    (five folds on two workers) instead of running after them in this process. A fit that raises
    raises here.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.model_selection import KFold
    >>> import pandas as pd
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": np.arange(6.0), "y": 2 * np.arange(6.0)}); X, y = df[["x"]], df["y"].to_numpy()
    >>> setup = CVSetup(X=X, y=y, schema=infer_schema(df, "y"), task="regression", metric="rmse", cv=KFold(3),
    ...                 seed=0, n_jobs=1)
    >>> folds, (final,) = out_of_fold(LinearRegression(), setup, fit_also=[(X, y)])
    >>> [r.test_index.tolist() for r in folds], folds[0].predictions.round(6).tolist(), float(final.coef_[0].round(6))
    ([[0, 1], [2, 3], [4, 5]], [0.0, 2.0], 2.0)
    """
    jobs = [delayed(_fit_whole)(pipeline, X_fit, y_fit) for X_fit, y_fit in fit_also]
    jobs += [delayed(_fit_caught)(pipeline, setup.X, setup.y, tr, te, {}, None, True, False) for tr, te in setup.folds()]
    out = Parallel(n_jobs=max(1, effective_n_jobs(setup.n_jobs)))(jobs)
    results = out[len(fit_also):]
    failed = next((r for r in results if isinstance(r, Exception)), None)
    if failed is not None:
        raise failed
    return results, out[:len(fit_also)]


def _fit_whole(pipeline, X, y):
    from sklearn.base import clone  # here, not at the top: the CLI starts the workers before importing sklearn

    with warnings.catch_warnings():  # a family that cannot converge still gives a model
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return clone(pipeline).fit(X, y)


def _until_stopped(results: list[FoldResult | Exception], after_fold: Callable[[int, FoldResult], bool] | None,
                   first: int = 0) -> tuple[list[FoldResult] | Exception, bool]:
    """The folds up to the one where ``after_fold`` stops (all without it), or the first exception
    among them; and whether ``after_fold`` stopped.

    ``results`` are folds ``first``, ``first + 1``, ... in fold order; ``after_fold`` gets those numbers.
    """
    kept = []
    for i, res in enumerate(results, start=first):
        if isinstance(res, Exception):
            return res, False
        kept.append(res)
        if after_fold is not None and after_fold(i, res):
            return kept, True
    return kept, False


def fold_arrays(results: list[FoldResult], key: str = "test_scores") -> dict[str, np.ndarray]:
    """Per-metric arrays of the folds' scores (``key``: test_scores or train_scores)."""
    names = list(getattr(results[0], key)) if results else []
    return {m: np.array([getattr(r, key)[m] for r in results]) for m in names}
