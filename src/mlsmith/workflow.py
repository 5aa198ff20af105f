"""The workflow: runs the seven stages in order and passes results along. It computes nothing itself."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml
from joblib import effective_n_jobs
from sklearn.base import clone
from sklearn.model_selection import TimeSeriesSplit

from ._budget import SAFETY_SAME_ROWS, EvaluationCost, RunBudget, default_time_budget, grown, scaled
from ._cluster import compute_backend, dask_client
from ._columns import unusable_targets
from ._dask import PartitionedTable, fit_final, read_partitioned
from ._experiment import CVSetup
from ._memory import MEMORY_CHECK_ROWS, MEMORY_SHARE, available_memory, fit_bytes, workers_for_memory
from ._reading import release_arrow_memory
from ._table import open_table
from ._workers import Background, in_background, warm_up
from .ablation import FeatureResult, measure_gain
from .catalog import CATALOG, family
from .data import Schema, check_columns, compact_categories, describe_frame, infer_schema, load_data
from .deploy import ModelBundle
from .deploy._assemble import bundle_metadata, write_bundle
from .eda import EDAReport, explore
from .evaluation import (
    Evaluation,
    baselines_for,
    choose_threshold,
    evaluate,
    fold_scores,
    global_explanations,
    measure_latency,
    model_outputs,
    scores_for,
)
from .exceptions import BundleError, StrictModeStop
from .features import plan_features
from .guards import GuardReport, check_data, check_training
from .metrics import get_metric
from .monitor import build_reference, test_reference
from .parallel import out_of_fold
from .pipeline import build_pipeline
from .problem import Problem, load_problem, mask_url
from .quality import QualityReport, assess_quality
from .report._html import render_sections
from .runs import register_run, run_folder, to_jsonable, write_json
from .selection import Leaderboard, LeaderboardRow, compare_models, cv_score, search_rows
from .split import SplitInfo, cv_splitter, sample_rows, split_train_test
from .target import TargetCodec, whole_model
from .tuning import ROUND_PARAMETERS, TuningResult, choose_rounds, learning_curves, parse_space, tune

__all__ = ["RunResult", "run"]

Progress = Callable[[str], Any]
logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Everything a run found, stage by stage; ``to_dict()`` is results.json. Made by :func:`run`.

    Parameters
    ----------
    problem : Problem
        The problem as run (resolved on the target: task, metric, positive class).
    schema : Schema
        The columns' roles.
    split : SplitInfo
        How the test rows were held out, and the CV folds.
    quality : QualityReport
        Stage 2, on the training rows.
    leaderboard : Leaderboard
        Stage 5.
    tuning : TuningResult
        Stage 6.
    evaluation : Evaluation
        Stage 7: the test split's metrics and the verdict.
    bundle : dict
        The model bundle written: its path, model, threshold, data fingerprint, versions.
    run_dir : pathlib.Path
        The run folder.
    notes : list of str
        What the run decided for the user (rows dropped, samples, refits).
    timings : dict
        Seconds per stage.
    guards : GuardReport
        The methodology checks' findings.
    features : FeatureResult, optional
        Stage 4.
    eda : EDAReport, optional
        Stage 3, on the training rows.
    environment : dict
        Where the run computed, and the library versions.
    held_out_outputs : dict, optional
        With a champion: the test rows' outputs of both models (not in results.json).
    rows_used : dict
        The rows each stage used.
    budget : dict
        The time budget, and per stage its allotment, estimate and cost.

    Examples
    --------
    A run takes ~10 s even on a small table (the examples below are not run as doctests):

    >>> from sklearn.datasets import load_diabetes
    >>> problem = Problem(target="target", models=["linear"], tuning={"method": "none"})
    >>> result = run(problem, data=load_diabetes(as_frame=True).frame)  # doctest: +SKIP
    >>> result.leaderboard.best.model, sorted(result.to_dict())[:3]  # doctest: +SKIP
    ('linear', ['bundle', 'eda', 'environment'])
    """

    problem: Problem
    schema: Schema
    split: SplitInfo
    quality: QualityReport
    leaderboard: Leaderboard
    tuning: TuningResult
    evaluation: Evaluation
    bundle: dict[str, Any]
    run_dir: Path
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    guards: GuardReport = field(default_factory=GuardReport)
    features: FeatureResult | None = None
    eda: EDAReport | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    #: With ``run(..., champion=bundle)``: the test rows' encoded target and both models' outputs
    #: (``{"y": codes, "challenger": (pred, proba), "champion": (pred, proba)}``), computed in the one
    #: read of the sealed test split; what :func:`mlsmith.retrain` compares. Not part of results.json.
    held_out_outputs: dict[str, Any] | None = None
    #: The rows each stage used, beside its seconds in ``timings``: all the training rows, or the
    #: comparison's samples (a list), the searches' sample, a figure sample (``{"rows", "sample"}``).
    rows_used: dict[str, Any] = field(default_factory=dict)
    #: The time budget: its seconds, the seconds spent, and per stage (the keys of ``timings``) what it
    #: was allotted, its estimated cost where one decided whether or how it ran, and what it cost.
    budget: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        stages = _stage_results(self.problem, self.quality, self.eda, self.features, self.leaderboard, self.tuning)
        return {
            "problem": stages["problem"],
            "schema": self.schema.to_dict(),
            "split": self.split.to_dict(),
            "quality": stages["quality"],
            "eda": stages["eda"],
            "guards": self.guards.to_dict(),
            **{key: stages[key] for key in ("features", "leaderboard", "leaderboard_meta", "tuning")},
            "evaluation": self.evaluation.to_dict(),
            "bundle": self.bundle,
            "notes": self.notes,
            "timings_s": self.timings,
            "rows_used": self.rows_used,
            "budget": self.budget,
            "environment": self.environment,
        }

    def _repr_html_(self) -> str:
        from .report import render_html

        return render_html(self, standalone=False)


def _stage_results(problem: Problem, quality: QualityReport, eda: EDAReport | None, features: FeatureResult | None,
                   leaderboard: Leaderboard, tuning: TuningResult) -> dict[str, Any]:
    """The results of stages 1-6, keyed as in results.json: known before the evaluation."""
    board = leaderboard.to_dict()
    return {
        "problem": problem.to_yaml_dict(),
        "quality": quality.to_dict(),
        "eda": eda.to_dict() if eda is not None else None,
        "features": features.to_dict() if features is not None else None,
        "leaderboard": board["rows"],
        "leaderboard_meta": {k: v for k, v in board.items() if k != "rows"},
        "tuning": tuning.to_dict(),
    }


def run(
    problem: str | Path | Problem,
    runs_dir: str | Path = "runs",
    strict: bool = False,
    n_jobs: int = -1,
    progress: Progress | None = None,
    cluster: str | None = None,
    *,
    data: Any = None,
    champion: ModelBundle | None = None,
) -> RunResult:
    """Run all stages for a problem and write the run folder.

    Parameters
    ----------
    problem : str, pathlib.Path or Problem
        Path to problem.yaml, or a :class:`~mlsmith.problem.Problem` (its ``data:`` section
        may give no source when ``data`` is passed).
    runs_dir : str or pathlib.Path, default="runs"
        Where the run folder is created (``<runs_dir>/<timestamp>-<name>/``).
    strict : bool, default=False
        Stop before training on an error-level finding (exit code 3 from the CLI).
    n_jobs : int, default=-1
        Parallel workers for cross-validation (-1: all cores).
    progress : callable, optional
        Called with each stage's name as it starts (the CLI shows a spinner).
    cluster : str, optional
        Run the cross-validation fits and tuning trials on Dask worker processes: ``"local"`` (a
        LocalCluster, one worker per core), ``"local:N"`` (N workers) or a scheduler address such as
        ``"tcp://host:8786"``; None runs them on local processes. The results are the same for the
        same seed. With a cluster and ``data.path`` a Parquet folder or glob, the table stays on the
        workers: stages 2-7 use bounded samples and a LightGBM model trains on every row through
        ``lightgbm.dask`` (see :mod:`mlsmith._dask`).
    data : DataFrame, optional
        The table to run on, held in memory: a pandas or Polars frame, a pyarrow Table (converted
        through Arrow to the types the CSV reader gives the same rows; see
        :func:`mlsmith._reading.as_pandas`). It replaces the spec's ``data.path`` / ``data.url``,
        which is then not read (a note says so); the other ``data:`` keys (``id_columns``,
        ``time_column``, ...) apply. The run folder's problem.yaml records the table as
        ``data.frame: <polars.DataFrame 344 x 8, fingerprint ...>``.
    champion : ModelBundle, optional
        A model in production, scored on the test rows in the same single read of the sealed test
        split as the run's own model (which is the one fitted on the training rows, before any
        ``split.refit: all``); both outputs are in ``RunResult.held_out_outputs``. Its task and
        classes must be the run's, and the data must hold its features.

    Returns
    -------
    RunResult
        Every stage's result; the same data is in ``<run>/results.json``.

    Examples
    --------
    A run on a small table takes ~10 s, so this example is not run as a doctest:

    >>> import mlsmith
    >>> result = mlsmith.run("examples/breast_cancer/problem.yaml")  # doctest: +SKIP
    >>> result.run_dir.parent.name, (result.run_dir / "report.html").exists()  # doctest: +SKIP
    ('runs', True)
    """
    started: list[Background] = []  # work started in the workers, cancelled if the run fails first
    try:
        if not cluster:
            return _run(problem, runs_dir, strict, n_jobs, progress, None, started, data, champion)
        with dask_client(cluster) as client:  # one cluster for the whole run: it holds the data
            return _run(problem, runs_dir, strict, n_jobs, progress, client, started, data, champion)
    except BaseException:
        for job in started:
            job.cancel()
        raise


def _run(problem, runs_dir, strict: bool, n_jobs: int, progress: Progress | None, cluster: Any,
         started: list[Background], data: Any = None, champion: ModelBundle | None = None) -> RunResult:
    timings: dict[str, float] = {}
    rows_used: dict[str, Any] = {}
    clock = time.perf_counter()
    budget = RunBudget(None)  # the spec's time budget, from here, once the spec is read

    def say(message: str) -> None:  # the stage starting: logged (a plain line off a terminal) and shown
        logger.info(message)
        if progress is not None:
            progress(message)

    def lap(name: str, rows: Any = None) -> None:  # a stage is done: its seconds, and the rows it used
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        budget.spent(name, timings[name])
        if rows is not None:
            rows_used[name] = rows
        # One plain line per stage with its seconds (and the budget's left), in a log or CI; a terminal shows the bar.
        left = budget.left()
        logger.info("%s took %.1f s%s", name, timings[name], "" if left is None else f" ({left:.0f} s of the "
                    f"{budget.seconds:g} s time budget left)")
        clock = now

    if not isinstance(problem, Problem):
        problem = load_problem(problem)
    budget.seconds = problem.constraints.time_budget_s
    say("1/7 problem definition: loading data")
    partitioned = read_partitioned(problem, cluster) if data is None else None
    if partitioned is None:
        train, held_out, split_info, problem, notes, n_dropped, shape = _load_and_split(problem, data)
    else:  # the table stays on the cluster's workers; this process gets samples
        train, held_out, split_info, problem = partitioned.split(problem)
        notes, n_dropped = partitioned.notes(len(train), held_out.n_rows), partitioned.n_dropped
        shape = (split_info.n_train + split_info.n_test + n_dropped, len(partitioned.frame.columns))
    if budget.seconds is None:
        budget.seconds = default_time_budget(*shape)
    if budget.seconds is not None and problem.constraints.time_budget_s is None:
        chosen = (f"time budget: {budget.seconds:g} s for the whole run, chosen from the table's size "
                  f"({shape[0]:,} rows x {shape[1]} columns) as problem.yaml sets none; set "
                  "constraints.time_budget_s to change it")
        say(chosen)
        notes.append(chosen)
    spec = problem.data
    # Roles, categories and ranges are learned from the training rows only, like everything else.
    schema = infer_schema(train, problem.target, spec.id_columns, spec.drop, spec.roles)
    codec = TargetCodec.fit(train[problem.target], problem.type, problem.positive_class)
    if champion is not None:  # before any model is fitted: a champion of another problem is a user error
        _check_champion(champion, train, problem, codec)
    lap("problem", shape[0])

    # The CV workers start now, importing the model libraries while this process checks the data.
    workers_ready = warm_up(n_jobs, wait=False) if cluster is None else (lambda: None)
    beside = cluster is None and effective_n_jobs(n_jobs) > 1  # work a worker can do while this process goes on

    def in_a_worker(func: Callable[..., Any], *calls: tuple) -> Background:
        """Start the calls in a worker beside this process (without one, they run here when waited for)."""
        job = in_background(func, *calls) if beside else Background.here(func, *calls)
        started.append(job)
        return job

    features = schema.features()
    # Past MEMORY_CHECK_ROWS the training rows are held from stage 4 on, and pickled to the guards' worker,
    # with their text as categories; quality and EDA still describe them as read (their dtypes, their bytes).
    held = compact_categories(train, schema.features("categorical")) if len(train) > MEMORY_CHECK_ROWS else train
    # The frame the fits get, in every worker: text categoricals as categories (same values, a fraction
    # of the bytes to pickle for each task; numeric columns reach the workers as shared memory maps).
    X = compact_categories(held[features], schema.features("categorical"))
    y = codec.encode(train[problem.target])
    # The guards (single-feature models, adversarial validation) run in a worker beside stages 2 and 3.
    guard_args = (problem, schema, held, y, held_out, split_info.strategy, n_dropped)
    guarded = in_a_worker(check_data, guard_args)
    say("2/7 data quality")
    with open_table(train) as table:  # one DuckDB view of the train split, shared by stages 2 and 3
        quality = assess_quality(table, problem.target, task=problem.type)
        lap("quality", len(train))
        say("3/7 exploratory analysis")
        eda = explore(table, problem.target, task=problem.type, positive_class=problem.positive_class,
                      time_column=spec.time_column, exclude=[*spec.id_columns, *spec.drop], seed=problem.seed)
    lap("eda", {"rows": len(train), "sample": eda.sample_rows})
    train = held  # the text as read is no longer needed

    say("guards: leakage, contamination, split and label checks")
    guards = guarded()[0]
    lap("guards", len(train))
    if strict and guards.errors:
        raise StrictModeStop(_strict_message(guards))

    cv, groups = cv_splitter(problem, train)
    say("4/7 feature plan")
    plan = plan_features(train, schema, problem.features, flagged=guards.leak_columns())
    lap("features_plan", len(train))
    spaces = {name: parse_space(name, spec) for name, spec in problem.tuning.spaces.items()}
    # The one set of cross-validation settings every stage after this uses: the spec's seed is its only source.
    setup = CVSetup(X=X, y=y, schema=schema, task=problem.type, metric=problem.success_metric, cv=cv, groups=groups,
                    seed=problem.seed, n_jobs=n_jobs)
    workers_ready()
    with compute_backend(cluster) as where:
        leaderboard, feature_result, chosen, tuning, costs = _select_and_tune(
            problem, setup, plan, spaces, say, lap, budget, split_info.n_test, rounds=partitioned is None)
    best = leaderboard.best
    notes += [f"time budget: {cut}" for cut in budget.cuts] + ([tuning.rounds["note"]] if tuning.rounds else [])
    if best.status == "over latency":
        notes.append(f"every family is over the {problem.constraints.latency_ms:g} ms latency budget; "
                     f"{best.label} was the best of them")

    say("7/7 evaluation")
    latency_ms = problem.constraints.latency_ms
    # The sections known now are drawn by a worker while this process evaluates and saves the model;
    # after the latency timing if a latency budget is to be judged, which is timed with nothing else running.
    early_args = (to_jsonable(_stage_results(problem, quality, eda, feature_result, leaderboard, tuning)), _DRAWN_EARLY)
    early = in_a_worker(render_sections, early_args) if latency_ms is None else None
    fit_jobs = n_jobs
    if cluster is None and len(X) > MEMORY_CHECK_ROWS:  # the evaluation's fits on every row, as many at once as fit
        fit_size, available = fit_bytes(chosen, X, y), available_memory()
        fit_jobs = workers_for_memory(n_jobs, fit_size, available)
        if fit_jobs < effective_n_jobs(n_jobs):
            notes.append(f"evaluation: {fit_jobs} fit(s) at a time on all {len(X):,} training rows (about "
                         f"{fit_size / 2**30:.1f} GB each; {MEMORY_SHARE:.0%} of the {available / 2**30:.1f} GB "
                         "available is allowed)")
    fit_setup = replace(setup, n_jobs=fit_jobs)
    cv_rows, fit_rows = min(len(X), EVALUATION_CV_ROWS), len(X)
    if budget.seconds is not None and partitioned is None:  # the CV sample, then the fit's, shrink to what is left
        left = budget.left() or 0.0
        cv_rows, fit_rows, expected = costs.fitting(left, cv_rows)
        budget.allot("evaluation", left, expected)
        notes += _shrunk_note(cv_rows, fit_rows, len(X), left, expected)
    # A sample for the final fit spans the training rows as the fit on all of them would (not the most
    # recent ones: fitted on the last 100,000 of 800,000 rows, a model missed the seasons, test AUC 0.657).
    fit_idx = None if fit_rows == len(X) else sample_rows(len(X), fit_rows, setup.y, setup.task, None,
                                                          setup.groups, setup.seed)
    cv_setup = (_evaluation_cv(fit_setup if fit_idx is None else fit_setup.on_rows(fit_idx), cv_rows)
                if partitioned is None else fit_setup)
    if len(cv_setup.X) < len(X):
        notes.append(f"evaluation: the cross-validated scores and the decision threshold come from the out-of-fold "
                     f"predictions of a sample of {len(cv_setup.X):,} of the {len(X):,} training rows "
                     f"({_sampled_as(setup)}); "
                     + ("the model is fitted on every training row" if fit_idx is None else
                        f"the model is fitted on {fit_rows:,} of them ({_sampled_as(replace(setup, cv=None))})"))
    evaluation, final, on_test, X_test, held_out_outputs, trained = _evaluate_final(
        chosen, fit_setup, train, held_out, problem, codec, champion, partitioned, cv_setup, fit_idx)
    guards.extend(check_training(problem, leaderboard, tuning, evaluation))
    notes += partitioned.final_fit_note(best.label, trained) if partitioned is not None else []
    n_fit = trained.pop("n_rows", fit_rows + (held_out.n_rows if problem.split.refit == "all" else 0))
    if problem.split.refit == "all":
        notes.append(f"split.refit is 'all': the bundle's model was refit on all {n_fit} rows (train + test) after "
                     f"the verdict; the test scores are those of the same pipeline fit on the {len(train)} training rows")
    metadata = {**bundle_metadata(problem, list(codec.classes), evaluation, best.model, train, X, n_fit), **trained}
    # The bundle ships the whole model: scikit-learn's own predict gives the original classes, with the threshold.
    model = whole_model(final, problem.type, codec.classes, evaluation.decision_threshold)
    say("7/7 evaluation: timing single-row predictions of the model bundle")
    # The bundle as it will serve (input checks, pipeline, threshold). A latency budget is judged on
    # p99: timed longer, and alone, than the figure given for information (one worker may draw then).
    rows = train[features].sample(min(len(X), 50), random_state=problem.seed)  # as the rows were read
    latency = measure_latency(ModelBundle(None, model, schema, metadata).predict, rows, target_ms=latency_ms,
                              max_seconds=2.0 if latency_ms is not None else 0.5)
    # The evaluation as the run reports it: a leak or contamination voids the score, and the bundle's
    # latency joins the constraints measured (a new result, the evaluation's own left as it computed it).
    evaluation = replace(evaluation, verdict=evaluation.verdict.invalidated([*guards.errors, *eda.findings]),
                         constraints={**evaluation.constraints, "latency": latency})
    if early is None:
        early = in_a_worker(render_sections, early_args)
    sampled = {"cv": len(cv_setup.X)} if len(cv_setup.X) < len(X) else {}
    sampled.update({"fit": fit_rows} if fit_rows < len(X) else {})
    lap("evaluation", {"train": len(train), "test": held_out.n_rows, **sampled})

    with run_folder(runs_dir, problem.name) as (tmp, final_dir):
        bundle_info = {"path": str(final_dir / "model"), "model": best.model,
                       "decision_threshold": evaluation.decision_threshold,
                       "data_fingerprint": metadata["data_fingerprint"], "versions": metadata["versions"], **trained}
        result = RunResult(problem, schema, split_info, quality, leaderboard, tuning, evaluation, bundle_info,
                           final_dir, notes, timings, guards, features=feature_result, eda=eda,
                           environment={"compute": where, "versions": metadata["versions"]},
                           held_out_outputs=held_out_outputs, rows_used=rows_used, budget=budget.to_dict())
        # The other sections but the bundle's are known now: a worker draws them while this process saves the model.
        late = in_a_worker(render_sections, (to_jsonable(result), _DRAWN_LATE))
        say("7/7 deployment: saving the model bundle")
        reference = build_reference(train, schema, on_test)
        checked = X_test if len(X_test) <= CHECK_ROWS else X_test.sample(CHECK_ROWS, random_state=problem.seed)
        bundle_info.update(write_bundle(tmp / "model", model, schema, metadata, reference, checked,
                                        problem.to_yaml_dict(), evaluation.to_dict(), notes,
                                        user_family=best.model not in CATALOG))
        lap("bundle", n_fit)
        (tmp / "problem.yaml").write_text(yaml.safe_dump(problem.to_yaml_dict(), sort_keys=False))
        leaderboard.to_frame().to_csv(tmp / "leaderboard.csv", index=False)
        from .report._figures import write_figures
        from .report._html import render_page

        page = render_page(to_jsonable(result), rendered={key: part for parts in [*early(), *late()]
                                                          for key, part in parts.items()})
        (tmp / "report.html").write_text(page.html)
        write_figures(page.figures, tmp / "figures")
        lap("report")
        result.budget = budget.to_dict()
        write_json(tmp / "results.json", result)
    register_run(final_dir)
    return result


def _load_and_split(problem: Problem, data: Any
                    ) -> tuple[pd.DataFrame, Any, SplitInfo, Problem, list[str], int, tuple[int, int]]:
    """The table read into this process and split: training rows, sealed test rows, the split, the
    problem resolved on the target, the notes so far, how many rows had no usable target, and the
    table's shape as read."""
    df = load_data(problem.data, problem.base_dir, data)
    notes: list[str] = []
    if data is not None:  # the run folder records the table it was given, and that the spec's source was not read
        source = problem.data.path or (problem.data.url and mask_url(problem.data.url))
        if source:
            notes.append(f"the table passed as data= was used; the spec's data source '{source}' was not read")
        given = problem.data.model_copy(update={"path": None, "url": None, "query": None, "table": None,
                                                "frame": describe_frame(data, df)})
        problem = problem.model_copy(update={"data": given})
    check_columns(df, problem)
    shape = df.shape
    unusable = unusable_targets(df[problem.target])
    if unusable.any():
        n_missing = int(df[problem.target].isna().sum())
        n_infinite = int(unusable.sum()) - n_missing
        said = [f"{n_missing} rows with a missing target"] if n_missing else []
        said += [f"{n_infinite} rows with an infinite target"] if n_infinite else []
        notes.append(f"{' and '.join(said)} were dropped before the split")
        df = df[~unusable].reset_index(drop=True)
    problem = problem.resolve(df[problem.target])
    train, held_out, split_info = split_train_test(df, problem)
    del df  # the table as read is not needed again: its rows are in the two splits
    release_arrow_memory()  # its text columns' pages, kept by Arrow's pool, go back to the system
    return train, held_out, split_info, problem, notes, int(unusable.sum()), shape


def _evaluate_final(chosen, setup: CVSetup, train, held_out, problem: Problem, codec: TargetCodec,
                    champion: ModelBundle | None = None, table: PartitionedTable | None = None,
                    cv_setup: CVSetup | None = None, fit_idx: np.ndarray | None = None,
                    ) -> tuple[Evaluation, Any, dict[str, Any], pd.DataFrame, dict[str, Any] | None, dict[str, Any]]:
    """Threshold and CV scores from out-of-fold predictions of the training rows (of ``cv_setup``'s,
    a bounded sample of them on a large table, see :func:`_evaluation_cv`), the final fit on all
    of them, then the one look at the test split (which also gives the monitoring reference of the
    predictions and the success metric, and the features for the bundle's ONNX check, which
    compares two forms of the same fitted model and decides nothing).

    The test rows are read before the fits only so that ``split.refit: all`` can fit its model on
    every row in the same dispatch as the others: nothing computed from them is seen before the
    verdict, and the pipeline, its threshold and the verdict's model come from the training rows.
    A ``champion`` bundle is scored on the same rows in the same read (see :func:`mlsmith.retrain`).
    On a partitioned ``table`` the final fits are those of :func:`mlsmith._dask.fit_final` (what it
    records of them is returned last; empty otherwise). With ``fit_idx`` (a time budget that leaves no
    time for every row) the model is fitted on those training rows only, and its training metrics
    are theirs; the baselines still learn from every training row.
    """
    X, y, features = setup.X, setup.y, setup.schema.features()
    X_fit, y_fit = (X, y) if fit_idx is None else (X.iloc[fit_idx], y[fit_idx])
    cv_setup = setup if cv_setup is None else cv_setup
    test = held_out.read()
    X_test, y_test = test[features], codec.encode(test[problem.target])
    fits = [(X_fit, y_fit)] if table is None else []
    if problem.split.refit == "all" and table is None:  # the bundle's model: the same pipeline, fit on every row
        fits.insert(0, (pd.concat([X_fit, X_test]), np.concatenate([y_fit, y_test])))  # the longest fit first
    folds, fitted = out_of_fold(chosen, cv_setup, fit_also=fits)
    y_cv = cv_setup.y  # the rows the folds' positions refer to
    final, trained = (fitted[-1], {}) if table is None else fit_final(chosen, table, features, problem.target, codec,
                                                                         X, y)
    threshold, reason = None, ""
    if problem.type == "binary_classification":
        idx, oof = np.concatenate([f.test_index for f in folds]), np.concatenate([f.predictions for f in folds])
        threshold, reason = choose_threshold(y_cv[idx], oof, problem.success_metric, problem.threshold)
    cv_metrics, cv_std = fold_scores(folds, y_cv, problem.type, threshold, codec.n_classes)
    train_metrics = _predict_scores(final, X_fit, y_fit, problem, codec, threshold)
    sensitive = test[list(problem.fairness.sensitive_columns)] if problem.fairness.sensitive_columns else None
    measured: dict[str, Any] = {}
    if problem.constraints.interpretability == "high":
        measured["explanations"] = global_explanations(
            final, X, X_test, y_test, problem.type, problem.success_metric, codec.n_classes, seed=problem.seed)
    evaluation = evaluate(final, X_test, y_test, problem, baselines_for(problem, train, test, y, codec), threshold,
                          reason, train_metrics, cv_metrics, codec.n_classes, list(codec.classes) or None,
                          cv_std=cv_std, sensitive=sensitive, constraints=measured)
    on_test = test_reference(final, X_test, y_test, problem.type, problem.success_metric, threshold, problem.threshold,
                             list(codec.classes), seed=problem.seed)
    outputs = None
    if champion is not None:  # the verdict's model (fit on the training rows), as the champion meets it
        outputs = {"y": y_test, "challenger": model_outputs(final, X_test, problem.type, threshold),
                   "champion": model_outputs(champion.pipeline, test[champion.schema.features()], champion.task,
                                             champion.threshold)}
    if problem.split.refit == "all":  # after the verdict, the bundle gets the model fit on every row
        final, trained = (fitted[0], trained) if table is None else fit_final(
            chosen, table, features, problem.target, codec, X, y, everything=(X_test, y_test))
    return evaluation, final, on_test, X_test, outputs, trained


#: Past this many training rows, the evaluation's cross-validation (its scores and the decision
#: threshold) runs on a sample of this size: five fits of 80 % of 8M rows cost as much as the rest of
#: the run, and the threshold and scores of 200,000 out-of-fold predictions are known to a few
#: thousandths. The model itself is always fitted on every training row.
EVALUATION_CV_ROWS = 200_000


def _shrunk_note(cv_rows: int, fit_rows: int, n: int, left: float, expected: float) -> list[str]:
    """What the time budget took from the evaluation, for the run's notes (nothing if it took nothing)."""
    if cv_rows == min(n, EVALUATION_CV_ROWS) and fit_rows == n:
        return []
    what = [f"cross-validated on {cv_rows:,} rows instead of {min(n, EVALUATION_CV_ROWS):,}"]
    if fit_rows < n:
        what.append(f"the model fitted on {fit_rows:,} of the {n:,} training rows, not all of them")
    return [f"time budget: evaluation: {' and '.join(what)}, to fit the {left:.0f} s left (about {expected:.0f} s "
            "expected)"]


def _sampled_as(setup: CVSetup) -> str:
    """How :func:`~mlsmith.split.sample_rows` picks a sample for ``setup``'s folds, in words."""
    if isinstance(setup.cv, TimeSeriesSplit):
        return "the most recent rows"
    if setup.groups is not None:
        return "whole groups"
    return "at random" if setup.task == "regression" else "stratified by class"


def _evaluation_cv(setup: CVSetup, rows: int | None = None) -> CVSetup:
    """The evaluation's cross-validation: every training row up to ``rows`` (default
    :data:`EVALUATION_CV_ROWS`), else a sample of that size as the folds see rows (the most recent for
    time-ordered folds, whole groups, or class-stratified; see :func:`~mlsmith.split.sample_rows`)."""
    n, rows = len(setup.X), EVALUATION_CV_ROWS if rows is None else rows
    if n <= rows:
        return setup
    return setup.on_rows(sample_rows(n, rows, setup.y, setup.task, setup.cv, setup.groups, setup.seed))


def _check_champion(champion: ModelBundle, test: pd.DataFrame, problem: Problem, codec: TargetCodec) -> None:
    """A champion is compared only with a model of the same problem: same task, classes and features."""
    if champion.task != problem.type or [str(c) for c in champion.classes] != [str(c) for c in codec.classes]:
        raise BundleError(
            f"champion '{champion.path}' predicts {champion.task} with classes {champion.classes}, but the new data "
            f"gives {problem.type} with classes {list(codec.classes)}; retrain against a champion of the same problem."
        )
    champion.check_columns(test)


#: The report sections drawn by a worker from the start of the evaluation (after the latency timing
#: when a latency budget is judged), while the rest of the run goes on (they read the results of
#: stages 1-6 only), and those drawn by another once the evaluation is done, while the bundle is
#: saved; the bundle's own section is drawn last, by this process.
_DRAWN_EARLY = ["quality", "eda", "features", "leaderboard", "tuning"]
_DRAWN_LATE = ["problem", "guards", "evaluation"]


def _strict_message(guards: GuardReport) -> str:
    first = guards.errors[0]
    others = guards.errors[1:]
    more = f" (and {len(others)} more: {', '.join(f.check for f in others)})" if others else ""
    return (f"--strict stopped the run before training on an error-level finding{more}: [{first.check}] "
            f"{first.message} Fix: {first.fix}")


#: Test rows the saved bundle and its ONNX graph are checked on against the fitted model: a sample past
#: this many, as both are predicted at once (on 2 million test rows, gigabytes for a comparison).
CHECK_ROWS = 100_000

#: Under a run's time budget, the model comparison gets this share of what is left when it starts
#: (at least ``COMPARE_FLOOR`` of the whole budget); the stages after it share the rest.
COMPARE_SHARE, COMPARE_FLOOR = 0.4, 0.1
#: Seconds kept for the evaluation and for saving the bundle and the report, beyond the evaluation's
#: fits and predictions (see :class:`~mlsmith._budget.EvaluationCost`), and more for the explanations of
#: ``interpretability: high`` (measured on two busy cores: 15 s for a linear model on 48,000 rows; 31 s
#: for the breast cancer example and 33 s for the churn example, both with explanations, and ONNX exports).
TAIL_S, EXPLAIN_S = 15.0, 15.0


def _evaluation_cost(best: LeaderboardRow, setup: CVSetup, problem: Problem, n_test: int) -> EvaluationCost:
    """The evaluation's cost model, from the chosen family's fold fit and scoring times in the comparison
    (on ``best.rows`` rows), for the fits and predictions the evaluation makes on ``setup``'s rows."""
    folds = setup.folds()
    n = len(setup.X)
    train_share = float(np.mean([len(tr) for tr, _ in folds])) / n
    test_share = float(np.mean([len(te) for _, te in folds])) / n
    return EvaluationCost(
        fit_s=best.fit_time_s, fit_rows=max(1.0, train_share * best.rows),
        predict_s=best.predict_time_s, predict_rows=max(1.0, test_share * best.rows),
        n_folds=len(folds), train_share=train_share, n_train=n, n_test=n_test, refit=problem.split.refit == "all",
        n_predicted=n + 2 * n_test + min(n_test, CHECK_ROWS),
        workers=max(1, min(effective_n_jobs(setup.n_jobs), len(folds) + 1)),
        fixed_s=TAIL_S + (EXPLAIN_S if problem.constraints.interpretability == "high" else 0.0))


#: The chosen family's cost on every training row is not carried further than this many times the rows its
#: fold fits were timed on: past it, one fit on this many times those rows is timed first (at most a
#: quarter of the rows, halved until it is expected to take at most :data:`CALIBRATE_SHARE` of the time
#: left, and not made below twice the timed rows). On the 10M-row table LightGBM's folds timed on the
#: 20,000-row rung, carried as rows^1.25 to 8 million rows, put its fit at about 7,000 s (one fit there
#: takes minutes), so the evaluation fitted the model on 500,000 of the rows and the searches were cut.
CALIBRATE_RATIO, CALIBRATE_SHARE = 8, 0.1


def _calibrated(costs: EvaluationCost, pipeline, setup: CVSetup, budget: RunBudget) -> tuple[EvaluationCost, int]:
    """``costs`` re-based on one timed fit of ``pipeline`` on :data:`CALIBRATE_RATIO` times the rows the
    comparison timed it on (fewer if the time left asks it), growing from there as its time grew between
    the two (at least as its rows);
    and that fit's rows (0 when none was made: no budget, a small table, or no time for it)."""
    n = len(setup.X) if budget.seconds is not None else 0
    left = budget.left()
    if not n or n < CALIBRATE_RATIO * costs.fit_rows or costs.fit_s <= 0 or left is None:
        return costs, 0
    rows = int(min(n // 4, CALIBRATE_RATIO * costs.fit_rows))
    while rows >= 2 * costs.fit_rows and scaled(costs.fit_s, int(costs.fit_rows), rows) > CALIBRATE_SHARE * left:
        rows //= 2  # fewer rows, as many as the time allows: still twice as far from the folds' as they were timed
    estimate = scaled(costs.fit_s, int(costs.fit_rows), rows)
    budget.allot("cost_calibration", CALIBRATE_SHARE * left, estimate)
    if estimate > CALIBRATE_SHARE * left or rows < 2 * costs.fit_rows:
        return costs, 0
    idx = sample_rows(n, rows, setup.y, setup.task, setup.cv, setup.groups, setup.seed)
    start = time.perf_counter()
    clone(pipeline).fit(setup.X.iloc[idx], setup.y[idx])
    seconds = max(time.perf_counter() - start, 1e-3)
    growth = grown(costs.fit_rows, costs.fit_s, rows, seconds)
    return replace(costs, fit_s=seconds, fit_rows=rows, growth=growth), rows


def _curves_reserve(budget: RunBudget, reserve: float, curves_s: float) -> float:
    """The seconds tuning leaves for the learning curves: their estimate ``curves_s`` if they fit in what is
    left after ``reserve`` (they run after tuning), else none, and tuning may have that time.

    >>> budget = RunBudget(100.0)
    >>> _curves_reserve(budget, 50.0, 30.0), _curves_reserve(budget, 50.0, 60.0)
    (30.0, 0.0)
    """
    left = budget.left(reserve)
    return curves_s if left is not None and curves_s <= left else 0.0


def _select_and_tune(problem: Problem, setup: CVSetup, plan, spaces, say, lap, budget: RunBudget, n_test: int,
                     rounds: bool = True):
    """Stages 5, 4's gain and 6: compare the shortlisted families, measure the feature plan's gain with
    the best, tune it, read its learning curves; and the evaluation's cost model. When the searches ran
    on a sample and ``rounds`` (the final fit is this process's, on every training row), a boosting
    family's rounds are then chosen on every training row (:func:`~mlsmith.tuning.choose_rounds`).

    Under a time budget the comparison gets its share (:data:`COMPARE_SHARE`); then the evaluation's
    cost is reserved (see :func:`_evaluation_cost`), and each stage after the comparison runs only if
    its estimated cost fits in what is left beside that reserve: the feature ablation (its whole-plan
    cross-validation timed first, on its own rows, before the others start), tuning (bounded by a
    deadline) and the learning curves (their cost taken from the ablation's measured cross-validation
    when it ran, else from the comparison's scaled to the rows, with :data:`~mlsmith._budget.SAFETY`).
    """
    constraints = problem.constraints
    say("5/7 model comparison")
    left = budget.left()
    compare_s = constraints.time_budget_s if left is None else \
        budget.bound("model comparison", None, max(COMPARE_SHARE * left, COMPARE_FLOOR * budget.seconds))
    leaderboard = compare_models(
        setup, secondary=problem.secondary_metrics, models=problem.models, time_budget_s=compare_s,
        family_budget_s=constraints.family_time_budget_s,
        interpretability=constraints.interpretability, latency_ms=constraints.latency_ms,
        progress=lambda step: say(step.within("5/7 model comparison: ")), target=problem.threshold, plan=plan,
    )
    lap("selection", [r["rows"] for r in leaderboard.budget.get("rungs", [])] or len(setup.X))
    best = leaderboard.best
    best_family = family(best.model, problem.models)
    costs = _evaluation_cost(best, setup, problem, n_test)
    costs, calibrated = _calibrated(costs, build_pipeline(best_family, setup.schema, setup.task, setup.seed, plan=plan),
                                    setup, budget)
    if calibrated:
        lap("cost_calibration", calibrated)
    reserve = costs.seconds(min(len(setup.X), EVALUATION_CV_ROWS))
    if budget.seconds is not None:
        budget.allot("evaluation", reserve, reserve)
    # A metric that moves with the decision threshold cannot steer a search (the threshold is chosen
    # afterwards); the search — and the feature ablation — then use the threshold-free average precision.
    tune_metric, tune_default = problem.success_metric, best.cv_mean
    if problem.type == "binary_classification" and get_metric(tune_metric).threshold_dependent:
        tune_metric, tune_default = "average_precision", best.secondary["average_precision"]

    # On a large table the searches after the comparison (ablation, tuning, learning curves) run on a
    # bounded sample, as the comparison's last rung below every row; the chosen pipeline is then
    # fitted on every training row by the evaluation.
    n, n_search = len(setup.X), search_rows(len(setup.X))
    sample = "" if n_search == n else f"on a sample of {n_search:,} of the {n:,} training rows"
    searched = replace(setup, metric=tune_metric)
    # A boosting family's rounds, chosen after tuning on every row: one fit there with up to twice the search's
    # rounds (as the comparison timed its folds). Held beside the evaluation's reserve before the searches get
    # their time, if the budget has it now; if not, the searches keep all of theirs and the rounds are not chosen.
    rounds_s: float | None = None  # None: the rounds are not chosen
    if sample and rounds and best.model in ROUND_PARAMETERS:
        estimate = 2 * scaled(costs.fit_s, int(costs.fit_rows), n, growth=costs.growth)
        if budget.allows("boosting rounds", estimate, reserve):
            rounds_s = estimate
            reserve += rounds_s
    if sample:
        searched = searched.on_rows(sample_rows(n, n_search, setup.y, setup.task, setup.cv, setup.groups, setup.seed))
    # One cross-validation of the best family on the search's rows, as the comparison timed it on its own.
    cv_s = scaled(best.wall_time_s or 0.0, best.rows or n, n_search)
    say(f"5/7 feature gain of the stage 4 plan, measured with {best.label}"  # after the comparison that picks it
        + (f" {sample}" if sample else ""))
    known = best.cv_mean if tune_metric == problem.success_metric and best.selection_score == best.cv_mean \
        and not sample else None
    # The plans to score: raw, each group left out, and the whole plan unless known; one more if groups go.
    n_cv = len(plan.groups) + (2 if known is None else 1) + 1 if plan.transforms else 0
    if budget.allows("feature ablation", n_cv * cv_s, reserve):
        feature_result = measure_gain(plan, best_family, searched, full_score=known,
                                      time_budget_s=budget.left(reserve))
    else:
        feature_result = FeatureResult(plan, plan, best.model, tune_metric, get_metric(tune_metric).greater_is_better,
                                       notes=[f"not measured: {budget.cuts[-1]}; the whole plan is kept"])
    if sample:
        feature_result = replace(feature_result, notes=[*feature_result.notes, f"measured {sample}"])
    if feature_result.final_score is not None:  # the untuned score of exactly the pipeline tuning starts from
        tune_default = feature_result.final_score
    if feature_result.cv_s is not None:  # re-measured on the search's rows, just now
        cv_s = feature_result.cv_s * SAFETY_SAME_ROWS
    lap("features", len(searched.X))

    spec = problem.tuning
    # Three folds of five training sizes, from a tenth of the rows to all: about twice one cross-validation.
    curves_s = 2 * cv_s if spec.learning_curve else 0.0
    curves_kept = _curves_reserve(budget, reserve, curves_s)
    timeout_s, method = spec.timeout_s, spec.method
    # On a sample the defaults' score is measured first, on the same rows, unless the ablation gave it.
    scores_default = bool(sample) and feature_result.final_score is None
    if method != "none" and budget.seconds is not None and \
            not budget.allows("tuning", cv_s * (2 if scores_default else 1), reserve + curves_kept):
        method = "none"  # not even one trial's time (and the defaults')
    say(f"6/7 tuning {best.label}" + (f" {sample}" if sample else ""))
    base_pipe = build_pipeline(best_family, setup.schema, setup.task, setup.seed, plan=feature_result.final)
    if scores_default and method != "none":
        tune_default = cv_score(base_pipe, searched)
    if method != "none" and budget.seconds is not None:  # the search's deadline: what is left once that is known
        timeout_s = budget.bound("tuning", spec.timeout_s, budget.left(reserve + curves_kept))
    space = spaces[best.model] if best.model in spaces else best_family.space(problem.type)
    chosen, tuning = tune(base_pipe, best.model, searched, default_score=tune_default, method=method,
                          n_trials=spec.n_trials, timeout_s=timeout_s, space=space,
                          progress=lambda step: say(step.within(f"6/7 tuning {best.label}: ")))
    lap("tuning", len(searched.X))
    # What the run reports of stage 6, besides the search's own result: the method the spec asked for
    # when the budget left no time for it, and the learning curves.
    reported: dict[str, Any] = {}
    if method != spec.method:
        reported.update(method=spec.method, kept=f"default: {budget.cuts[-1]}")
    if spec.learning_curve and budget.allows("learning curves", curves_s, reserve):
        say(f"6/7 learning curves of {best.label}")
        dummy = next((r for r in leaderboard.rows if r.model == "dummy" and r.cv_mean is not None), None)
        reference = None
        if dummy is not None:
            reference = dummy.cv_mean if tune_metric == problem.success_metric else dummy.secondary.get(tune_metric)
        reported["learning_curve"] = learning_curves(clone(chosen), searched, reference=reference, n_folds=3)
        lap("learning_curves", len(searched.X))
    if rounds_s is not None:
        say(f"6/7 boosting rounds of {best.label}, early-stopped on every training row")
        chosen, choice = choose_rounds(chosen, best.model, setup, n_search, time_budget_s=budget.left(reserve - rounds_s))
        if choice is not None:  # the evaluation's fits get the chosen rounds: its cost model follows them
            reported["rounds"] = choice.to_dict()
            costs = replace(costs, fit_s=costs.fit_s * choice.chosen / choice.searched)
            lap("boosting_rounds", len(setup.X))
    return leaderboard, feature_result, chosen, replace(tuning, **reported), costs


def _predict_scores(pipeline, X, y, problem: Problem, codec: TargetCodec, threshold) -> dict[str, float]:
    pred, proba = model_outputs(pipeline, X, problem.type, threshold)
    return scores_for(problem.type, y, pred, proba, codec.n_classes)
