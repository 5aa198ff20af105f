"""Stage 5: a cross-validated comparison of algorithm families, leak-free, seeded and budgeted.

The families come from the catalog (:mod:`mlsmith.catalog`, the traits of the classic comparison
table) through the recommender (:mod:`mlsmith.recommender`, which to try first and why).
:func:`compare_models` cross-validates the shortlisted families, each as one Pipeline
(preprocessing + model), on the same folds, within a time budget per family and for the whole
comparison, and returns a :class:`Leaderboard`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from sklearn.model_selection import TimeSeriesSplit

from ._budget import BudgetExceeded, grown, scaled
from ._experiment import CVSetup
from ._latency import LATENCY_REPEATS, LATENCY_TOLERANCE, latency_decision
from ._progress import Step
from ._workers import warm_up
from .catalog import CATALOG, Family, families, model_names
from .exceptions import DataError
from .features import FeaturePlan
from .metrics import choose_threshold, get_metric, scorer
from .parallel import FoldResult, fit_folds, fit_many, fold_arrays
from .pipeline import build_pipeline
from .recommender import Recommendation, recommend
from .split import sample_rows

#: The comparison races (see :func:`_race`): after this many folds, a family significantly behind stops.
RACE_FOLDS = 3
#: The one-sided significance level of the paired t-test that stops it.
RACE_ALPHA = 0.05

__all__ = ["CATALOG", "Family", "Leaderboard", "LeaderboardRow", "build_pipeline", "compare_models"]


@dataclass
class LeaderboardRow:
    """One family's cross-validated result.

    ``status`` is ``ok``, ``failed`` (it cannot fit this data), ``over budget`` (stopped when its
    time ran out), ``over latency`` (its measured one-row predict time exceeds the constraint) or
    ``stopped early`` (significantly behind the leader on the first folds; its scores are theirs).
    """

    model: str
    label: str
    cv_mean: float | None
    cv_std: float | None
    train_mean: float | None
    fit_time_s: float
    predict_time_s: float
    secondary: dict[str, float] = field(default_factory=dict)
    selection_score: float | None = None
    status: str = "ok"
    note: str = ""
    #: The median CPU ms of the family's timed one-row predictions (every fold model's repeats pooled).
    latency_ms: float | None = None
    #: How the latency budget judged it (``mlsmith._latency.latency_decision``): median,
    #: p90, timings, budget, tolerance, the limit it was held to and whether it was excluded.
    latency: dict[str, Any] | None = None
    #: Seconds the family took: elapsed under a budget; otherwise (its folds queued with the others')
    #: the fitting and scoring time of its folds, summed.
    wall_time_s: float = 0.0
    #: Folds fitted: fewer than the splitter's when the family ``stopped early``, behind the leader.
    folds: int = 0
    #: Training rows it was cross-validated on: fewer than all of them when successive halving
    #: (:func:`compare_models`) stopped it on a sample.
    rows: int = 0
    #: The time budget that stopped it, if one did: ``comparison budget`` (the whole comparison's,
    #: on this row's rung or a later one), ``family budget`` (its own) or ``family share`` (its equal
    #: share of the comparison's, on the first rung); None when none did.
    stopped_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Leaderboard:
    """The comparison: one row per family, best first by the success metric. Made by :func:`compare_models`.

    Parameters
    ----------
    metric : str
        The success metric the families are ranked by.
    greater_is_better : bool
        Its direction.
    cv : str
        The folds, described (``5-fold stratified, shuffled with seed 42``).
    rows : list of LeaderboardRow
        One per family, best first.
    skipped : dict, default={}
        The families not compared, each with the reason.
    selection : str, default=""
        How the best family was chosen (at its own decision threshold, within a budget, ...).
    recommendation : Recommendation, optional
        The shortlist the comparison started from.
    budget : dict, default={}
        The time and latency budgets, the rungs of successive halving, and what they excluded.

    Examples
    --------
    >>> board = Leaderboard("r2", True, "3-fold", [LeaderboardRow("linear", "Linear", 0.48, 0.03, 0.5, 0.01, 0.001),
    ...                                            LeaderboardRow("dummy", "Dummy", -0.01, 0.01, 0.0, 0.0, 0.0)])

    >>> board.best.model, list(board.to_frame()["model"])
    ('linear', ['linear', 'dummy'])
    """

    metric: str
    greater_is_better: bool
    cv: str
    rows: list[LeaderboardRow]
    skipped: dict[str, str] = field(default_factory=dict)
    selection: str = ""
    recommendation: Recommendation | None = None
    budget: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> LeaderboardRow:
        """The best family by the success metric that meets the constraints.

        When every family is over the latency budget, the best of them (the run says so); the
        dummy only when nothing else ran.
        """
        scored = [r for r in self.rows if r.cv_mean is not None]
        for usable in ([r for r in scored if r.status == "ok" and r.model != "dummy"],
                       [r for r in scored if r.status == "over latency"], scored):
            if usable:
                return usable[0]
        why = "; ".join(f"{r.model}: {r.status}" + (f" ({r.note})" if r.note else "") for r in self.rows)
        raise DataError(f"no model family produced a cross-validated score ({why or 'none was tried'}); "
                        "check that the features carry values (quality's findings) or widen 'models'.")

    def to_frame(self) -> pd.DataFrame:
        records = []
        for r in self.rows:
            record = {k: v for k, v in r.to_dict().items() if k not in ("secondary", "latency")}
            if r.latency is not None:  # the decision's figures, one column each
                record.update({f"latency_{k}": v for k, v in r.latency.items()
                               if k not in ("measure", "budget_ms", "median_ms")})
            record.update({f"cv_{k}": v for k, v in r.secondary.items()})
            records.append(record)
        return pd.DataFrame.from_records(records)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "greater_is_better": self.greater_is_better, "cv": self.cv,
                "selection": self.selection, "rows": [r.to_dict() for r in self.rows], "skipped": self.skipped,
                "recommendation": self.recommendation.to_dict() if self.recommendation else None,
                "budget": self.budget}

    def _repr_html_(self) -> str:
        from .report._html import render_section
        from .runs import to_jsonable

        board = to_jsonable(self.to_dict())
        meta = {k: v for k, v in board.items() if k != "rows"}
        return render_section("leaderboard", board["rows"], {"leaderboard_meta": meta})


def compare_models(
    setup: CVSetup,
    *,
    secondary: list[str] | tuple[str, ...] = (),
    models: list | None = None,
    time_budget_s: float | None = None,
    progress: Callable[[str], None] | None = None,
    target: float | None = None,
    family_budget_s: float | None = None,
    interpretability: str = "medium",
    latency_ms: float | None = None,
    plan: FeaturePlan | None = None,
    first_rung_rows: int | None = None,
) -> Leaderboard:
    """Cross-validate every shortlisted family on the same folds.

    Parameters
    ----------
    setup : CVSetup
        The training rows, schema, task, success metric, splitter, groups, seed (it reaches every
        estimator and sample; the splitter carries it already) and workers (each model uses one
        thread). See :class:`~mlsmith.CVSetup`.
    secondary : list of str, default=()
        More metrics to report.
    models : list of str or ModelSpec, optional
        The families to compare (default: what :func:`~mlsmith.recommender.recommend` keeps): catalog
        names, or :class:`~mlsmith.problem.ModelSpec` entries for the user's own families.
    time_budget_s : float, optional
        For the whole comparison: a family still running when it is spent is stopped (its row's
        ``stopped_by`` is ``comparison budget``), the families not started are skipped (named in
        ``budget["not_started"]``, their reason in ``skipped``). On the first rung (every family on
        the same rows) each family but the dummy may take an equal share of it, the budget over the
        families compared but the dummy (``budget["family_share_s"]``): one still running then is stopped, ``over
        budget`` with ``stopped_by`` ``family share``.
    progress : callable, optional
        Called with a :class:`~mlsmith._progress.Step` (a ``str``) counting the families: under a
        time budget, each family's label as it starts, then its score, folds and seconds when it is
        done; without one (every fold queued at once), each family's fitting seconds as its first
        folds come back, then its score. Prefixed with the rung's rows under successive halving.
    target : float, optional
        The success threshold. For a binary task whose metric depends on the decision threshold
        (recall, precision, f1, accuracy, ...), families are compared at their own operating point:
        the threshold is chosen on out-of-fold probabilities exactly as for the final model (see
        :func:`~mlsmith.metrics.choose_threshold`), the metric is reported at that threshold, and
        ``selection_score`` ranks them (e.g. the precision reached with recall >= target).
    family_budget_s : float, optional
        For each family: one that runs over is stopped and marked ``over budget`` (``stopped_by``:
        ``family budget``).
    interpretability : {"high", "medium", "low"}, default="medium"
        The problem's interpretability constraint: ``high`` keeps the readable families only
        (see :func:`~mlsmith.recommender.recommend`).
    latency_ms : float, optional
        The problem's latency constraint. A family whose median one-row
        predict CPU time (every fold model timed ``LATENCY_REPEATS`` times, see
        :mod:`mlsmith._latency`) exceeds ``latency_ms`` by more than
        ``LATENCY_TOLERANCE`` (25%) is marked ``over latency`` and cannot be chosen; each row
        records the decision, and the leaderboard's ``budget["latency"]`` the rule and the
        families it excluded.
    plan : FeaturePlan, optional
        The feature plan of stage 4, applied inside every family's pipeline.
    first_rung_rows : int, optional
        Successive halving over rows (default :data:`FIRST_RUNG_ROWS`). On more than
        ``first_rung_rows * RUNG_FACTOR`` training rows, every family is first compared on a sample of
        that many rows (stratified by class; the most recent rows for time-ordered folds; whole
        groups for grouped folds; rung ``i``'s sample drawn with the seed ``setup.seed + i``), the best third (at least two) on :data:`RUNG_FACTOR` times as
        many, and so on; the last rung uses every row. A family stopped on a sample keeps that
        rung's scores, with ``rows`` and a note saying so, and cannot be chosen; one the time
        budget stopped is judged on the last rung it finished (so a budget that runs out on the
        last rung does not leave only the dummy to choose). A family the
        recommender caps at a rung's size (kernel SVM and k-NN above ``LARGE_N`` rows) stops there.
        The time budget holds across the rungs; ``budget["rungs"]`` records each one.

    Returns
    -------
    Leaderboard
        One row per family (CV mean and std, fit time, status), best first.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import KFold
    >>> from mlsmith import CVSetup
    >>> from mlsmith.data import infer_schema
    >>> df = load_diabetes(as_frame=True).frame
    >>> setup = CVSetup(X=df.drop(columns="target"), y=df["target"].to_numpy(), schema=infer_schema(df, "target"),
    ...                 task="regression", metric="r2", cv=KFold(3, shuffle=True, random_state=0), seed=0, n_jobs=1)
    >>> board = compare_models(setup, models=["linear", "dummy"])
    >>> [row.model for row in board.rows], board.best.model
    (['linear', 'dummy'], 'linear')
    """
    first = FIRST_RUNG_ROWS if first_rung_rows is None else first_rung_rows
    sizes = _rung_sizes(len(setup.X), first)
    args: dict[str, Any] = dict(secondary=secondary, target=target, family_budget_s=family_budget_s,
                                interpretability=interpretability, latency_ms=latency_ms, plan=plan)
    if len(sizes) == 1:
        return _compare(setup, models=models, time_budget_s=time_budget_s, progress=progress, shared=True, **args)
    start = time.perf_counter()
    by_name = dict(zip(model_names(models), models)) if models else {}
    alive: list[str] | None = None  # None: every family the recommender keeps
    previous: dict[str, LeaderboardRow] = {}
    not_started: list[str] = []  # over every rung
    timed: dict[str, list[tuple[int, float]]] = {}  # each family's (rows, seconds) on the rungs it finished
    stopped: list[LeaderboardRow] = []
    rungs: list[dict[str, Any]] = []
    first_board: Leaderboard | None = None
    n = len(setup.X)
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        left = None if time_budget_s is None else max(0.0, time_budget_s - (time.perf_counter() - start))
        asked = models if alive is None else [by_name.get(name, name) for name in alive]
        rows = n if last else size
        # Past the first rung, a family starts only if its time on the rung it last finished, scaled to
        # this rung's rows, fits in what is left: one that could not finish would spend the rest for nothing.
        expected = None if not timed or left is None else \
            {name: _expected_seconds(points, rows) for name, points in timed.items()}
        began = time.perf_counter()
        on_rung = progress if progress is None or last else (lambda step, rows=rows: progress(
            step.within(f"{rows:,} rows: ")))
        board = _compare(setup if last else setup.on_rows(
            sample_rows(n, size, setup.y, setup.task, setup.cv, setup.groups, setup.seed + i)),
            models=asked, time_budget_s=left, progress=on_rung, expected_s=expected, shared=i == 0, **args)
        first_board = first_board or board
        not_started += [name for name in board.budget.get("not_started", []) if name not in not_started]
        # The dummy goes along to every rung as the reference; like a promoted family, its scores on the
        # rows it finished stand when the budget stops it on a later rung.
        out_of_time = [name for name in [*(alive or []), "dummy"]
                       if name in previous and previous[name].status == "ok" and _out_of_time(board, name)]
        for name in out_of_time:  # promoted, then the budget ran out: its scores on the rows it finished stand
            row = previous[name]
            row.stopped_by = "comparison budget"
            why = board.skipped.get(name, "")
            row.note = (f"cross-validated on {row.rows:,} of the {n:,} rows: the comparison's time budget ran out "
                        f"on the {rows:,}-row rung, so it is judged on these"
                        + (f" ({why})" if why.startswith("not started: about") else ""))
            stopped.append(row)
        board.rows = [r for r in board.rows if r.model not in out_of_time]
        for name in alive or []:  # promoted, then left out by the recommender at this size: capped
            if name in out_of_time:
                continue
            if name in board.skipped and name in previous:
                row = previous[name]
                row.status, row.note = "capped", f"not fitted on more than {row.rows:,} rows: {board.skipped[name]}"
                stopped.append(row)
        rungs.append({"rows": rows, "families": [r.model for r in board.rows],
                      "seconds": round(time.perf_counter() - began, 2)})
        if last:
            break
        ranked = [r for r in board.rows if r.status in ("ok", "stopped early") and r.model != "dummy"]
        keep = [r.model for r in ranked[:max(2, -(-len(ranked) // 3))]]
        for r in board.rows:
            if r.model in keep or r.model == "dummy":
                continue
            if r in ranked:
                r.status, r.note = "stopped early", (f"behind at {size:,} rows (rank {ranked.index(r) + 1} of "
                                                     f"{len(ranked)} on {board.metric}): not fitted on more rows")
            stopped.append(r)
        rungs[-1]["kept"] = keep
        previous = {r.model: r for r in board.rows}
        for r in board.rows:
            if r.cv_mean is not None:
                timed.setdefault(r.model, []).append((r.rows, r.wall_time_s))
        alive = keep
        if not keep:  # no family to compare on more rows (each failed, or the budget stopped it): done
            board.rows = [r for r in board.rows if r.model == "dummy"]
            break
    greater = board.greater_is_better
    stopped.sort(key=lambda r: (-r.rows, r.selection_score is None,
                                -(r.selection_score or 0) if greater else (r.selection_score or 0)))
    budget = {**board.budget, "time_budget_s": time_budget_s, "elapsed_s": round(time.perf_counter() - start, 3),
              "rungs": rungs, **({"not_started": not_started} if not_started else {}),
              **{k: v for k, v in first_board.budget.items() if k == "family_share_s"}}
    result = Leaderboard(board.metric, board.greater_is_better, board.cv, [*board.rows, *stopped],
                         first_board.skipped, selection=board.selection, recommendation=first_board.recommendation,
                         budget=budget)
    if any(r.cv_mean is not None for r in result.rows):
        # best first, as on one rung: a family the budget stopped on the last rung is judged on the rung it
        # finished, and must not sit below the dummy, the one family always scored on every row
        chosen = result.best
        result.rows = [chosen, *(r for r in result.rows if r is not chosen)]
    return result


#: Successive halving over rows (Jamieson & Talwalkar 2016, as Hyperband and FLAML's growing samples
#: do): the first rung's sample size, and how much each rung grows. Below FIRST_RUNG_ROWS * RUNG_FACTOR
#: training rows there is one rung, every row, as before.
FIRST_RUNG_ROWS = 20_000
RUNG_FACTOR = 4


def cv_score(pipeline, setup: CVSetup) -> float:
    """The mean cross-validated metric of one pipeline on ``setup``, in the metric's natural direction.

    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.model_selection import KFold
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": np.arange(30.0), "y": 2 * np.arange(30.0)})
    >>> setup = CVSetup(X=df[["x"]], y=df["y"].to_numpy(), schema=infer_schema(df, "y"), task="regression",
    ...                 metric="rmse", cv=KFold(3), seed=0, n_jobs=1)
    >>> round(cv_score(LinearRegression(), setup), 6)
    0.0
    """
    metric = setup.metric
    res = fit_folds(pipeline, setup.X, setup.y, setup.folds(), {metric: scorer(metric, setup.task, setup.n_classes)},
                    n_jobs=setup.n_jobs, seed=setup.seed)
    sign = 1.0 if get_metric(metric).greater_is_better else -1.0
    return float(sign * np.mean(fold_arrays(res)[metric]))


def search_rows(n: int, first: int | None = None) -> int:
    """How many training rows the searches after the comparison use (the feature ablation, tuning,
    learning curves): every row up to two rungs, else the last rung below all rows.

    >>> search_rows(262_346), search_rows(54_000)
    (80000, 54000)
    """
    sizes = _rung_sizes(n, FIRST_RUNG_ROWS if first is None else first)
    return sizes[-2] if len(sizes) > 1 else n


def _expected_seconds(timed: list[tuple[int, float]], rows: int) -> float:
    """A family's expected seconds on ``rows`` rows, from its ``(rows, seconds)`` on the rungs it finished.

    The last rung's seconds, scaled to ``rows`` as the rows to the power the family's time grew by
    between its last two rungs, times :data:`~mlsmith._budget.SAFETY`; with one rung, or a growth
    below 1 (each call's fixed cost still counting on small rungs), the rows to the power
    :data:`~mlsmith._budget.GROWTH` or 1. Timed alone, every family but the kernel SVM and k-nearest
    neighbours grows at most linearly with its rows (``benchmarks/cost_growth.py``), where the blanket
    power of 1.25 kept gradient boosting off the 1M-row table's last rung with a minute of the
    comparison left; a kernel SVM that grew as rows^2 between its rungs is expected to go on so.

    >>> _expected_seconds([(20_000, 10.0)], 80_000) == scaled(10.0, 20_000, 80_000)
    True
    >>> _expected_seconds([(20_000, 10.0), (80_000, 30.0)], 320_000)  # grew as rows^0.79: taken as linear
    180.0
    >>> _expected_seconds([(20_000, 1.0), (80_000, 16.0)], 320_000)  # as rows^2
    384.0
    """
    (last_rows, last_s) = timed[-1]
    if len(timed) < 2 or last_s <= 0 or timed[-2][1] <= 0 or last_rows <= timed[-2][0]:
        return scaled(last_s, last_rows, rows)
    return scaled(last_s, last_rows, rows, growth=grown(*timed[-2], last_rows, last_s))


def _out_of_time(board: Leaderboard, name: str) -> bool:
    """Whether the comparison's time budget stopped ``name`` on this rung (or ran out before it started)."""
    row = next((r for r in board.rows if r.model == name), None)
    if row is not None:
        return row.stopped_by == "comparison budget"
    return name in board.budget.get("not_started", ())


def _rung_sizes(n: int, first: int) -> list[int]:
    """The rows of each rung: ``first``, ``first * RUNG_FACTOR``, ... below ``n``, then ``n``.

    >>> _rung_sizes(262_000, 20_000), _rung_sizes(54_000, 20_000)
    ([20000, 80000, 262000], [54000])
    """
    if n <= first * RUNG_FACTOR:
        return [n]
    sizes = [first]
    while sizes[-1] * RUNG_FACTOR < n:
        sizes.append(sizes[-1] * RUNG_FACTOR)
    return [*sizes, n]


def _compare(
    setup: CVSetup, *, secondary: list[str] | tuple[str, ...], models: list | None, time_budget_s: float | None,
    progress: Callable[[Step], None] | None, target: float | None, family_budget_s: float | None,
    interpretability: str, latency_ms: float | None, plan: FeaturePlan | None,
    expected_s: dict[str, float] | None = None, shared: bool = False,
) -> Leaderboard:
    """One comparison, on the rows of ``setup``: :func:`compare_models`' parameters, every one passed by it
    (no defaults here, so that the two cannot disagree), ``expected_s``: the seconds each family is
    expected to take on these rows (a later rung of successive halving, from the rung before), and
    ``shared``: whether these rows are the first rung, where every family gets an equal share of the
    time budget (see :func:`_family_share`). Under a time budget a family expected to overrun it is
    not started, and with ``expected_s`` the dummy is bounded like the others (it is unbounded on the
    first rung, so that something always has a score)."""
    X, y, task, metric, cv, n_jobs = setup.X, setup.y, setup.task, setup.metric, setup.cv, setup.n_jobs
    n_classes = setup.n_classes
    operating_point = task == "binary_classification" and get_metric(metric).threshold_dependent
    rec = recommend(setup.schema, len(X), task, interpretability, latency_ms, models)
    # A threshold-free companion for families compared at their operating point (tuning uses it).
    extra = ["average_precision"] if operating_point else []
    scoring = {m: scorer(m, task, n_classes) for m in dict.fromkeys([metric, *secondary, *extra])}
    sign = {m: 1.0 if get_metric(m).greater_is_better else -1.0 for m in scoring}
    folds = setup.folds()
    rows: list[LeaderboardRow] = []
    budgeted = time_budget_s is not None or family_budget_s is not None
    if budgeted:
        warm_up(n_jobs)
    catalog = families(models)
    pipes = {name: build_pipeline(catalog[name], setup.schema, task, setup.seed, plan=plan) for name in rec.order}
    fit_args: dict[str, Any] = dict(n_jobs=n_jobs, train_metric=metric, seed=setup.seed,
                                    want_predictions=operating_point, want_latency=latency_ms is not None)

    def fold_scores(res: list) -> tuple[dict[str, np.ndarray], np.ndarray, float | None]:
        """Per-fold scores (each metric's own values: an error is positive), training scores, ranking score."""
        values = {m: sign[m] * v for m, v in fold_arrays(res).items()}
        train_values = sign[metric] * fold_arrays(res, "train_scores")[metric]
        if operating_point:
            values[metric], train_values, selection_score = _at_operating_point(res, y, metric, target)
            return values, train_values, selection_score
        return values, train_values, None

    def add_row(name: str, res: list, values, train_values, selection_score, wall_time_s: float) -> None:
        family = catalog[name]
        row = LeaderboardRow(
            model=name,
            label=family.label,
            cv_mean=float(np.mean(values[metric])),
            cv_std=float(np.std(values[metric])),
            train_mean=float(np.mean(train_values)),
            fit_time_s=float(np.mean([r.fit_time_s for r in res])),
            predict_time_s=float(np.mean([r.score_time_s for r in res])),
            secondary={m: float(np.mean(v)) for m, v in values.items() if m != metric},
            selection_score=float(np.mean(values[metric])) if selection_score is None else selection_score,
            wall_time_s=round(wall_time_s, 3),
            folds=len(res),
        )
        if latency_ms is not None:
            row.latency = _latency(res, latency_ms)
            row.latency_ms = row.latency["median_ms"]
            if row.latency["excluded"] and name != "dummy":
                row.status = "over latency"
                row.note = (f"one-row predict takes {row.latency_ms:.2f} ms of CPU (median of {row.latency['n']}) > "
                            f"the {latency_ms:g} ms budget + {row.latency['tolerance']:.0%}")
                rec.drop(name, row.note)
        rows.append(row)

    def add_failed(name: str, exc: Exception) -> None:
        rows.append(LeaderboardRow(name, catalog[name].label, None, None, None, 0.0, 0.0,
                                   status="failed", note=f"{type(exc).__name__}: {exc}"[:300]))

    tell = progress or (lambda step: None)
    start = time.perf_counter()
    total_deadline = None if time_budget_s is None else start + time_budget_s
    not_started: list[str] = []  # the families the comparison's budget left unstarted
    shared_by = [name for name in rec.order if name != "dummy"]  # the dummy costs next to nothing: it has no share
    share_s = _family_share(time_budget_s, len(shared_by)) if shared else None
    if not budgeted:
        # Nothing has to stop between families: every fold of every family is queued at once, in
        # two rounds when the comparison races (see _race).
        def greater_is_better(res: list) -> np.ndarray:  # the race's per-fold scores
            return sign[metric] * fold_scores(res)[0][metric]

        labels = {name: catalog[name].label for name in pipes}
        race = _race(pipes, labels, X, y, folds, scoring, fit_args, cv, greater_is_better, latency_ms, progress)
        for name, res, behind in race:
            if isinstance(res, Exception):  # a family that cannot fit this data is reported, not fatal
                add_failed(name, res)
                continue
            add_row(name, res, *fold_scores(res), sum(r.fit_time_s + r.score_time_s for r in res))
            if behind and rows[-1].status == "ok":
                rows[-1].status, rows[-1].note = "stopped early", behind
            tell(Step(_finished(rows[-1], metric), done=len(rows), total=len(race)))
    else:
        for number, name in enumerate(rec.order):
            family = catalog[name]
            now = time.perf_counter()
            bounded = name != "dummy" or expected_s is not None
            refused = _refused(now, total_deadline, time_budget_s, (expected_s or {}).get(name), len(X)) \
                if bounded else None
            if refused:
                rec.drop(name, refused)
                not_started.append(name)
                continue
            tell(Step(family.label, done=number, total=len(rec.order)))
            # Each bound that applies, as (deadline, what it is); the earliest stops the family.
            bounds = [(d, which) for d, which in (
                (total_deadline, "comparison budget"),
                (None if family_budget_s is None else now + family_budget_s, "family budget"),
                (None if share_s is None or name == "dummy" else now + share_s, "family share")) if d is not None]
            deadline, which = min(bounds, key=lambda bound: bound[0]) if bounds and bounded else (None, "")
            try:
                res = fit_folds(pipes[name], X, y, folds, scoring, deadline=deadline, **fit_args)
                scores = fold_scores(res)
            except BudgetExceeded as exc:
                seconds = {"comparison budget": time_budget_s, "family budget": family_budget_s, "family share": share_s}
                note = _stopped_note(which, seconds, len(shared_by), len(X), f"{exc.done}/{len(folds)} folds done")
                rows.append(LeaderboardRow(name, family.label, None, None, None, 0.0, 0.0, status="over budget",
                                           note=note, wall_time_s=round(time.perf_counter() - now, 3),
                                           stopped_by=which))
                if total_deadline is None or time.perf_counter() < total_deadline:
                    # The stopped family's workers were killed; the next one starts warm. Not once the
                    # comparison's time is spent: no family starts then, and the restart took 15 s on a
                    # loaded machine, past the comparison's end.
                    warm_up(n_jobs)
                continue
            except Exception as exc:  # a family that cannot fit this data is reported, not fatal
                add_failed(name, exc)
                continue
            add_row(name, res, *scores, time.perf_counter() - now)
            tell(Step(_finished(rows[-1], metric), done=number + 1, total=len(rec.order)))
    for row in rows:
        row.rows = len(X)
    greater = get_metric(metric).greater_is_better or operating_point
    rows.sort(key=lambda r: (r.status not in ("ok", "stopped early"), r.selection_score is None,
                             -(r.selection_score or 0) if greater else (r.selection_score or 0)))
    cv_name = f"{type(cv).__name__}(n_splits={cv.get_n_splits()})"
    budget = _budget_record(time_budget_s, family_budget_s, time.perf_counter() - start, not_started, rows, latency_ms)
    if share_s is not None:
        budget["family_share_s"] = round(share_s, 1)
    return Leaderboard(get_metric(metric).name, get_metric(metric).greater_is_better, cv_name, rows, rec.skipped,
                       selection=_selection_text(metric, target, operating_point), recommendation=rec, budget=budget)


def _family_share(time_budget_s: float | None, n_families: int) -> float | None:
    """The seconds each family may take on the first rung (every family on the same rows): the
    comparison's time budget over the ``n_families`` compared (the dummy aside), so that no one
    family spends the time the others and the later rungs need (a kernel SVM took 95-166 s of a
    196 s comparison on 20,000 rows, on a loaded machine). None without a budget.

    >>> _family_share(196.0, 9), _family_share(60.0, 1), _family_share(None, 9)
    (21.8, 60.0, None)
    """
    return None if time_budget_s is None else round(time_budget_s / max(n_families, 1), 1)


def _stopped_note(which: str, seconds: dict[str, Any], n_families: int, n_rows: int, done: str) -> str:
    """Why a family was stopped, by ``which`` bound (``seconds`` maps each to its seconds), with its folds ``done``.

    >>> _stopped_note("family share", {"family share": 21.8, "comparison budget": 196.0}, 9, 20_000, "2/5 folds done")
    "stopped after 21.8 s, its share of the comparison's 196 s time budget (1/9: one share for each family but the dummy compared on these 20,000 rows; 2/5 folds done)"
    >>> _stopped_note("comparison budget", {"comparison budget": 196.0}, 10, 20_000, "2/5 folds done")
    'stopped at the comparison time budget of 196 s (2/5 folds done)'
    """
    if which == "family share":
        return (f"stopped after {seconds[which]:.1f} s, its share of the comparison's "
                f"{seconds['comparison budget']:.0f} s time budget (1/{n_families}: one share for each family "
                f"but the dummy compared on these {n_rows:,} rows; {done})")
    return f"stopped at the {which.split()[0]} time budget of {seconds[which]:g} s ({done})"


def _refused(now: float, deadline: float | None, time_budget_s: float | None, expected_s: float | None,
             n_rows: int) -> str | None:
    """Why a family is not started under the comparison's time budget: the budget is spent, or the
    seconds it is expected to take on these ``n_rows`` rows exceed what is left; None if it may start.

    >>> _refused(100.0, 130.0, 60.0, 45.2, 80_000)
    "not started: about 45 s expected on 80,000 rows, 30 s of the comparison's time budget left"
    >>> _refused(100.0, 130.0, 60.0, 20.0, 80_000) is None, _refused(100.0, None, None, 1e9, 80_000) is None
    (True, True)
    """
    if deadline is None:
        return None
    if now > deadline:
        return f"the comparison's time budget of {time_budget_s:g} s was spent before it started"
    if expected_s is not None and now + expected_s > deadline:
        return (f"not started: about {expected_s:.0f} s expected on {n_rows:,} rows, {deadline - now:.0f} s of the "
                "comparison's time budget left")
    return None


def _finished(row: LeaderboardRow, metric: str) -> str:
    """One family's result as a progress line: its score, folds and seconds.

    >>> _finished(LeaderboardRow("linear", "Linear", 0.71234, 0.0041, 0.72, 0.2, 0.01, wall_time_s=3.25, folds=5),
    ...           "roc_auc")
    'Linear: roc_auc 0.7123 ± 0.0041 (5 folds, 3.2 s)'
    """
    status = "" if row.status == "ok" else f", {row.status}"
    return f"{row.label}: {metric} {row.cv_mean:.4f} ± {row.cv_std:.4f} ({row.folds} folds, {row.wall_time_s:.1f} s{status})"


def _budget_record(time_budget_s: float | None, family_budget_s: float | None, elapsed_s: float,
                   not_started: list[str], rows: list[LeaderboardRow], latency_ms: float | None) -> dict[str, Any]:
    """The comparison's ``budget``: its budgets, the seconds spent, the families its time budget left
    unstarted (when any) and the latency decision (when the problem sets a latency budget)."""
    budget: dict[str, Any] = {"time_budget_s": time_budget_s, "family_budget_s": family_budget_s,
                              "elapsed_s": round(elapsed_s, 3)}
    if not_started:
        budget["not_started"] = not_started
    if latency_ms is not None:
        budget["latency"] = _latency_record(rows, latency_ms)
    return budget


def _race(
    pipes: dict[str, Any],
    labels: dict[str, str],
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scoring: dict[str, Callable],
    fit_args: dict[str, Any],
    cv: Any,
    scores: Callable[[list[FoldResult]], np.ndarray],
    latency_ms: float | None,
    progress: Callable[[str], None] | None,
) -> list[tuple[str, list[FoldResult] | Exception, str | None]]:
    """Each family's fold results (or its exception) and, if it stopped early, why; in ``pipes``' order
    (``labels`` names the families in progress and reasons).

    The comparison races (Maron & Moore's Hoeffding races; caret's adaptive resampling, Kuhn 2014):
    every family is fitted on the first :data:`RACE_FOLDS` folds, and one whose scores there are
    significantly below the leader's on the same folds (the corrected paired t-test of
    :func:`_behind_p`, one-sided, at :data:`RACE_ALPHA`; ``scores`` gives a family's per-fold
    scores, greater is better) does not fit the other folds. The leader, the dummy and every family
    not clearly behind complete all folds, so the chosen family's estimate is the full
    cross-validation. A family over the latency
    budget cannot lead. Folds in time order are not raced: the first ones train on the least data
    and would favour models that learn fast from little.
    """
    first = folds[:RACE_FOLDS] if len(folds) > RACE_FOLDS and not isinstance(cv, TimeSeriesSplit) else folds
    out: dict[str, list[FoldResult] | Exception] = {}
    for number, (name, res) in enumerate(zip(pipes, fit_many(list(pipes.values()), X, y, first, scoring, **fit_args))):
        if progress:  # as each family's folds come back (they were all queued at once)
            done = "failed" if isinstance(res, Exception) else \
                f"{len(res)} folds fitted, {sum(r.fit_time_s + r.score_time_s for r in res):.1f} s of fitting and scoring"
            progress(Step(f"{labels[name]}: {done}", done=number + 1, total=len(pipes)))
        out[name] = res
    if len(first) == len(folds):
        return [(name, res, None) for name, res in out.items()]
    racing = {name: scores(res) for name, res in out.items() if not isinstance(res, Exception) and name != "dummy"}
    leaders = [name for name in racing if latency_ms is None or not _latency(out[name], latency_ms)["excluded"]]
    behind: dict[str, str] = {}
    if leaders:
        leader = max(leaders, key=lambda name: racing[name].mean())
        test_over_train = float(np.mean([len(te) / len(tr) for tr, te in first]))
        for name, values in racing.items():
            p = _behind_p(racing[leader] - values, test_over_train) if name != leader else 1.0
            if p < RACE_ALPHA:
                behind[name] = (f"behind {labels[leader]} on the first {len(first)} of {len(folds)} folds "
                                f"(corrected paired t-test, one-sided p = {p:.2g}): its other folds were not fitted")
    rest = [name for name, res in out.items() if not isinstance(res, Exception) and name not in behind]
    later = fit_many([pipes[name] for name in rest], X, y, folds[len(first):], scoring, **fit_args)
    for name, res in zip(rest, later):
        out[name] = res if isinstance(res, Exception) else out[name] + res
    return [(name, res, behind.get(name)) for name, res in out.items()]


def _latency(res: list[FoldResult], latency_ms: float) -> dict[str, Any]:
    """The latency decision of a family from its folds' timings (see ``latency_decision``)."""

    timed = [r.latency_samples for r in res if r.latency_samples]
    return latency_decision([t for s in timed for t in s["cpu_ms"]], latency_ms,
                            wall_ms=[t for s in timed for t in s["wall_ms"]])


def _latency_record(rows: list[LeaderboardRow], latency_ms: float) -> dict[str, Any]:
    """The latency rule as applied, for results.json: enough to check a rerun's shortlist against."""

    judged = [r for r in rows if r.latency is not None]
    return {"budget_ms": latency_ms, "tolerance": LATENCY_TOLERANCE, "limit_ms": latency_ms * (1 + LATENCY_TOLERANCE),
            "repeats_per_fold": LATENCY_REPEATS,
            "rule": f"a family is excluded when the median CPU time of its one-row predictions exceeds "
                    f"{latency_ms:g} ms by more than {LATENCY_TOLERANCE:.0%}",
            "median_ms": {r.model: round(r.latency["median_ms"], 4) for r in judged},
            "excluded": sorted(r.model for r in judged if r.latency["excluded"] and r.model != "dummy")}


def _behind_p(diff: np.ndarray, test_over_train: float) -> float:
    """One-sided p-value that the differences of paired fold scores are above zero.

    The folds' training sets overlap, so their scores are correlated and the plain paired t-test is
    too eager; this is Nadeau & Bengio's corrected resampled t-test (as in scikit-learn's example
    "Statistical comparison of models using grid search"): the variance of the mean difference is
    ``var * (1 / k + n_test / n_train)`` rather than ``var / k``.

    >>> round(_behind_p(np.array([0.02, 0.03, 0.025]), 0.25), 4)
    0.0113
    """
    k = len(diff)
    var = float(np.var(diff, ddof=1)) * (1 / k + test_over_train)
    if var == 0.0:  # the same difference on every fold: behind if it is a loss at all
        return 0.0 if diff[0] > 0 else 1.0
    return float(student_t.sf(float(np.mean(diff)) / np.sqrt(var), df=k - 1))


def _selection_text(metric: str, target: float | None, operating_point: bool) -> str:
    if not operating_point:
        return f"cross-validated {metric}"
    if metric in ("recall", "precision") and target is not None:
        other = "precision" if metric == "recall" else "recall"
        return (f"out-of-fold {other} at the threshold that keeps {metric} >= {target:g} "
                f"(each family at its own operating point)")
    return f"out-of-fold {metric} at each family's best decision threshold"


def _at_operating_point(
    res: list, y: np.ndarray, metric: str, target: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-fold validation and training metric at the out-of-fold threshold, and the ranking score."""
    from .metrics import compute

    def at_threshold(rows, proba):
        return compute(metric, "binary_classification", y[rows], y_pred=(proba >= threshold).astype(int))

    idx = np.concatenate([r.test_index for r in res])
    proba = np.concatenate([r.predictions for r in res])
    threshold, _ = choose_threshold(y[idx], proba, metric, target)
    per_fold = np.array([at_threshold(r.test_index, r.predictions) for r in res])
    # the training score at the same threshold, so that train and CV compare like with like
    train = np.array([at_threshold(r.train_index, r.train_predictions) for r in res])
    pred = (proba >= threshold).astype(int)
    if metric in ("recall", "precision") and target is not None:
        other = "precision" if metric == "recall" else "recall"
        reached = compute(metric, "binary_classification", y[idx], y_pred=pred) >= target
        score = compute(other, "binary_classification", y[idx], y_pred=pred)
        # a family that misses the target ranks below every family that reaches it
        return per_fold, train, score if reached else score - 1.0
    return per_fold, train, compute(metric, "binary_classification", y[idx], y_pred=pred)
