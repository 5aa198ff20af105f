"""``retrain``: a challenger trained on new data against the champion, on the same recent hold-out.

The challenger is a full workflow run on the new data. Its held-out test split (the most recent
rows when the problem names a ``time_column``) is the common ground: the run scores both models on
those rows in its one read of the sealed split, and a paired bootstrap of the difference in the
success metric decides. The challenger is promoted only when the whole interval of its gain lies
above zero — better beyond noise.

This module sits above the workflow (it runs one), as the CLI does: the monitoring stage, which the
workflow uses to build a bundle's reference, does not import it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._bootstrap import paired_gain
from .deploy import ModelBundle
from .evaluation import metric_on_resamples
from .metrics import get_metric
from .problem import Problem, load_problem
from .runs import staging_dir, write_json
from .workflow import run

__all__ = ["RetrainResult", "retrain"]

DECISION_FILE = "retrain.json"


@dataclass
class RetrainResult:
    """The champion-challenger comparison and its decision (also written to ``<run>/retrain.json``).

    Made by :func:`retrain`.

    Parameters
    ----------
    champion : str
        The bundle in production.
    challenger : str
        The bundle trained on the new data.
    challenger_run : str
        The challenger's run folder.
    metric : str
        The success metric both were scored on.
    greater_is_better : bool
        The metric's direction.
    holdout : str
        How the new data's hold-out rows were chosen (the challenger's sealed test split).
    n_holdout : int
        Hold-out rows both models were scored on.
    champion_value, challenger_value : float
        Their scores on the hold-out.
    gain : float
        The challenger's score minus the champion's, signed so that positive is better.
    ci : list of float
        The paired-bootstrap interval of the gain.
    level : float
        The interval's level.
    p_value : float
        The bootstrap p-value of no gain.
    n_boot : int
        Bootstrap resamples.
    promoted : bool
        Whether the challenger is better beyond noise (the interval above zero).
    applied : bool
        Whether its bundle was put in the champion's folder (``promote=True``).
    decision : str
        The decision, in a sentence with the interval.
    created : str
        When the decision was made (ISO 8601, UTC).
    notes : list of str
        What to know about the comparison (a random rather than time-ordered hold-out, ...).

    Examples
    --------
    >>> result = RetrainResult("runs/a/model", "runs/b/model", "runs/b", "roc_auc", True, "random 20%", 114,
    ...                        0.9712, 0.9855, 0.0143, [0.002, 0.027], 0.95, 0.012, 1000, True, False,
    ...                        "challenger promoted", "2026-12-05T00:00:00+00:00")
    >>> result.to_dict()["promoted"], "challenger" in result._repr_html_()
    (True, True)
    """

    champion: str
    challenger: str
    challenger_run: str
    metric: str
    greater_is_better: bool
    holdout: str
    n_holdout: int
    champion_value: float
    challenger_value: float
    gain: float
    ci: list[float]
    level: float
    p_value: float
    n_boot: int
    promoted: bool
    applied: bool
    decision: str
    created: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def _repr_html_(self) -> str:
        from .report._monitor import retrain_html
        from .runs import to_jsonable

        return retrain_html(to_jsonable(self.to_dict()))


def _replace_bundle(champion: Path, challenger: Path, stamp: str) -> Path:
    """Put the challenger's bundle in the champion's place; the old champion is kept beside it."""
    tmp = staging_dir(champion.parent, champion.name)
    shutil.copytree(challenger, tmp, dirs_exist_ok=True)
    archived = champion.with_name(f"{champion.name}.replaced-{stamp}")
    os.replace(champion, archived)
    os.replace(tmp, champion)
    return archived


def retrain(
    problem: str | Path | Problem,
    champion: str | Path,
    data: Any,
    runs_dir: str | Path = "runs",
    *,
    promote: bool = False,
    alpha: float = 0.05,
    n_boot: int = 1000,
    n_jobs: int = -1,
    progress: Callable[[str], Any] | None = None,
) -> RetrainResult:
    """Retrain on new data and decide between the champion and the challenger.

    Parameters
    ----------
    problem : str, pathlib.Path or Problem
        Problem.yaml (or a Problem); its ``data`` source is replaced by ``data``.
    champion : str or pathlib.Path
        The bundle in production.
    data : str, pathlib.Path, pandas.DataFrame, polars.DataFrame or pyarrow.Table
        The new data: a file (CSV, Parquet, ...) or a table held in memory (pandas, Polars,
        pyarrow; as :func:`mlsmith.run`'s ``data``).
    runs_dir : str or pathlib.Path, default="runs"
        Where the challenger's run folder is written.
    promote : bool, default=False
        When the challenger wins, also put its bundle in the champion's folder (the old one is
        kept as ``<champion>.replaced-<time>``).
    alpha : float, default=0.05
        One minus the level of the paired-bootstrap interval.
    n_boot : int, default=1000
        Bootstrap resamples.
    n_jobs : int, default=-1
        Parallel workers for the challenger's run (-1: all cores).
    progress : callable, optional
        Called with each stage's name as the challenger's run starts it.

    Returns
    -------
    RetrainResult
        The two scores on the same hold-out rows, the interval of the gain, and the decision.

    Examples
    --------
    >>> retrain("no/problem.yaml", "runs/x/model", "new.csv")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.ProblemSpecError: problem file 'no/problem.yaml' does not exist; ...
    """
    spec = problem if isinstance(problem, Problem) else load_problem(problem)
    champ = ModelBundle.load(champion)
    if isinstance(data, (str, Path)):  # a file replaces the spec's source; a frame is given to run() as is
        new_data = spec.data.model_copy(update={"path": str(Path(data).resolve()), "url": None, "query": None})
        spec, data = spec.model_copy(update={"data": new_data}), None
    result = run(spec, runs_dir=runs_dir, n_jobs=n_jobs, progress=progress, data=data, champion=champ)
    resolved, info, outputs = result.problem, result.split, result.held_out_outputs
    assert outputs is not None, "run() given a champion records both models' held-out outputs"
    challenger = ModelBundle.load(result.run_dir / "model")
    y = outputs["y"]
    _, metric = resolved.task_and_metric()
    n_classes = len(challenger.classes) or None
    scores = []
    for name in ("champion", "challenger"):
        pred, proba = outputs[name]
        scores.append(metric_on_resamples(metric, champ.task, y, pred, proba, n_classes))
    greater = get_metric(metric).greater_is_better
    boot = paired_gain(scores[0], scores[1], len(y), greater, n_boot=n_boot, alpha=alpha, seed=resolved.seed)
    full = np.arange(len(y))[None]
    promoted = bool(boot["ci_low"] > 0)
    level = f"{boot['level']:.0%}"
    interval = f"gain {boot['gain']:+.4f}, {level} interval [{boot['ci_low']:+.4f}, {boot['ci_high']:+.4f}]"
    decision = (f"challenger promoted: better on {metric} beyond noise ({interval})" if promoted else
                f"champion kept: the challenger is not better on {metric} beyond noise ({interval})")
    notes = []
    if info.strategy != "time":
        notes.append("the hold-out is a random split of the new data; set data.time_column to hold out the most "
                     "recent rows")
    now = datetime.now(timezone.utc)
    applied = False
    if promote and promoted:
        archived = _replace_bundle(Path(champion), challenger.path, f"{now:%Y%m%d-%H%M%S}")
        applied = True
        notes.append(f"the challenger's bundle now sits in '{champion}'; the old champion is in '{archived}'")
    out = RetrainResult(
        champion=str(champion), challenger=str(challenger.path), challenger_run=str(result.run_dir), metric=metric,
        greater_is_better=greater, holdout=info.description, n_holdout=len(y), champion_value=float(scores[0](full)[0]),
        challenger_value=float(scores[1](full)[0]), gain=boot["gain"], ci=[boot["ci_low"], boot["ci_high"]],
        level=boot["level"], p_value=boot["p_value"], n_boot=int(boot["n_boot"]), promoted=promoted, applied=applied,
        decision=decision, created=now.isoformat(timespec="seconds"), notes=notes,
    )
    write_json(result.run_dir / DECISION_FILE, out)
    return out
