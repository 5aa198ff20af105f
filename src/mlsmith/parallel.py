"""The CV engine: every cross-validation fit of the comparison, the ablation, tuning and the evaluation.

Every cross-validation fit of stages 5 and 6 goes through :func:`fit_folds`, which sends a
pipeline's folds to joblib at once, or in rounds of as many folds as there are workers where it may
have to stop between folds, or through :func:`fit_many`, which sends many pipelines' folds at once;
the evaluation's out-of-fold predictions come from the same fold fits (:func:`out_of_fold`).
Where joblib runs them (local processes or a Dask cluster) is :mod:`mlsmith._cluster`'s choice, how
many at once :mod:`mlsmith._memory`'s. Results do not depend on where a fold ran: each fold is a
seeded fit on fixed rows, and results are read back in fold order.

A deadline stops the work that is still running (joblib's timeout kills local workers and
cancels Dask futures) and raises :class:`~mlsmith._budget.BudgetExceeded`: a family that runs over
is not waited for.
"""

from __future__ import annotations

import multiprocessing
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from ._budget import BudgetExceeded
from ._experiment import CVSetup
from ._memory import memory_workers

__all__ = ["TRAIN_SCORE_ROWS", "FoldResult", "fit_folds", "fit_many", "fold_arrays", "out_of_fold"]


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


def _rows(X, idx: np.ndarray):
    """``X.iloc[idx]``, as a view when ``idx`` is a run of consecutive rows (a time-ordered split's folds):
    a copy holds as many bytes as the rows (at 8 million rows, a fold's training and test rows are a
    gigabyte beside the fit). The same rows, in the same order, with the same index."""
    idx = np.asarray(idx)
    if len(idx) > 1 and idx[-1] - idx[0] == len(idx) - 1 and bool(np.all(idx[1:] > idx[:-1])):
        return X.iloc[int(idx[0]):int(idx[-1]) + 1]
    return X.iloc[idx]


def _fit_one(pipeline, X, y, train, test, scorers: dict[str, Callable], train_metric: str | None, seed: int,
             want_predictions: bool, want_latency: bool) -> FoldResult:
    from sklearn.base import clone  # here, not at the top: the CLI starts the workers before importing sklearn

    with warnings.catch_warnings():
        # Families that cannot converge on a fold, or see a constant feature there, still give a score.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        X_train, X_test = _rows(X, train), _rows(X, test)
        start = time.perf_counter()
        est = clone(pipeline).fit(X_train, y[train])
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        scored = _Outputs(est)  # one pass of the pipeline per split, however many metrics read it
        test_scores = {m: float(s(scored, X_test, y[test])) for m, s in scorers.items()}
        score_time = time.perf_counter() - start
        seen = _training_sample(train, len(test), y, seed) if train_metric else train
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


def _training_sample(train: np.ndarray, n_test: int, y: np.ndarray, seed: int) -> np.ndarray:
    """The training rows a fold's training score is measured on: all, or a sample past a size.

    The training score only shows the gap to the validation score, so it needs the validation
    score's precision, not more: with 5 folds, scoring every training row would predict four times
    the rows the validation does. Past ``max(n_test, TRAIN_SCORE_ROWS)`` rows, a stratified sample of
    that many (classes are integer codes; rare ones are kept) drawn with the experiment's ``seed``: the
    same rows in every run of the spec.
    """
    n = max(n_test, TRAIN_SCORE_ROWS)
    if len(train) <= n:
        return train
    from sklearn.utils import resample

    stratify = y[train] if y.dtype.kind in "iub" else None
    return np.sort(resample(train, n_samples=n, replace=False, stratify=stratify, random_state=seed))


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
    *,
    n_jobs: int = -1,
    deadline: float | None = None,
    train_metric: str | None = None,
    seed: int,
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
    seed
        The experiment's seed (:attr:`mlsmith.CVSetup.seed`), which draws that sample: required, so
        that no sample is ever drawn with a seed the spec did not give.
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
    >>> res = fit_folds(LinearRegression(), X, y, folds, {"r2": scorer("r2", "regression")}, n_jobs=1, seed=0)
    >>> [round(r.test_scores["r2"], 6) for r in res]
    [1.0, 1.0, 1.0, 1.0]
    """
    workers = memory_workers(n_jobs, [pipeline], X, y)
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
        jobs = (delayed(_fit_caught)(pipeline, X, y, tr, te, scorers, train_metric, seed, want_predictions,
                                     want_latency) for tr, te in batch)
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
    *,
    n_jobs: int = -1,
    train_metric: str | None = None,
    seed: int,
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
    ...                {"r2": scorer("r2", "regression")}, n_jobs=1, seed=0)
    >>> [len(results) for results in out]
    [4, 4]
    """
    workers = memory_workers(n_jobs, pipelines, X, y)
    jobs = (delayed(_fit_caught)(pipeline, X, y, tr, te, scorers, train_metric, seed, want_predictions, want_latency)
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
    jobs += [delayed(_fit_caught)(pipeline, setup.X, setup.y, tr, te, {}, None, None, True, False) for tr, te in setup.folds()]
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
