"""``retrain``: a challenger trained on new data against the champion, on the same recent hold-out.

The challenger is a full workflow run on the new data. Its held-out test split (the most recent
rows when the problem names a ``time_column``) is the common ground: both models score those rows,
and a paired bootstrap of the difference in the success metric decides. The challenger is promoted
only when the whole interval of its gain lies above zero — better beyond noise.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._columns import unusable_targets
from ..data import check_columns, load_data
from ..deploy import ModelBundle
from ..exceptions import BundleError
from ..metrics import get_metric
from ..problem import Problem, load_problem
from ..runs import staging_dir, write_json
from ..split import split_train_test
from ..target import TargetCodec
from ..evaluation import metric_on_resamples
from ._reference import model_outputs
from ._stats import paired_bootstrap

__all__ = ["RetrainResult", "retrain"]

DECISION_FILE = "retrain.json"


@dataclass
class RetrainResult:
    """The champion-challenger comparison and its decision (also written to ``<run>/retrain.json``)."""

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
        from ..report._monitor import retrain_html
        from ..runs import to_jsonable

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
    data: str | Path,
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
    problem : problem.yaml (or a Problem); its ``data`` source is replaced by ``data``.
    champion : the bundle in production.
    data : the new data (CSV or Parquet).
    runs_dir : where the challenger's run folder is written.
    promote : when the challenger wins, also put its bundle in the champion's folder (the old one is
        kept as ``<champion>.replaced-<time>``).
    alpha : one minus the level of the paired-bootstrap interval.
    n_boot : bootstrap resamples.

    Returns
    -------
    RetrainResult

    Examples
    --------
    >>> retrain("no/problem.yaml", "runs/x/model", "new.csv")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.ProblemSpecError: problem file 'no/problem.yaml' does not exist; ...
    """
    from ..workflow import run

    spec = problem if isinstance(problem, Problem) else load_problem(problem)
    champ = ModelBundle.load(champion)
    new_data = spec.data.model_copy(update={"path": str(Path(data).resolve()), "url": None, "query": None})
    spec = spec.model_copy(update={"data": new_data})
    result = run(spec, runs_dir=runs_dir, n_jobs=n_jobs, progress=progress)
    resolved = result.problem

    # The same rows the challenger was evaluated on: the split is a function of the data and the seed.
    frame = load_data(resolved.data, resolved.base_dir)
    check_columns(frame, resolved)
    frame = frame[~unusable_targets(frame[resolved.target])].reset_index(drop=True)  # as run() drops them
    _, held_out, info = split_train_test(frame, resolved)
    test = held_out.read()
    challenger = ModelBundle.load(result.run_dir / "model")
    if champ.task != challenger.task or [str(c) for c in champ.classes] != [str(c) for c in challenger.classes]:
        raise BundleError(
            f"champion '{champion}' predicts {champ.task} with classes {champ.classes}, but the new data gives "
            f"{challenger.task} with classes {challenger.classes}; retrain against a champion of the same problem."
        )
    champ.check_columns(test)
    y = TargetCodec(challenger.task, tuple(challenger.classes)).encode(test[resolved.target])
    metric = resolved.success_metric
    n_classes = len(challenger.classes) or None
    scores = []
    for bundle in (champ, challenger):
        pred, proba = model_outputs(bundle.pipeline, test[bundle.schema.features()], bundle.task, bundle.threshold)
        scores.append(metric_on_resamples(metric, bundle.task, y, pred, proba, n_classes))
    greater = get_metric(metric).greater_is_better
    boot = paired_bootstrap(scores[0], scores[1], len(y), greater, n_boot=n_boot, alpha=alpha, seed=resolved.seed)
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
        level=boot["level"], p_value=boot["p_value"], n_boot=boot["n_boot"], promoted=promoted, applied=applied,
        decision=decision, created=now.isoformat(timespec="seconds"), notes=notes,
    )
    write_json(result.run_dir / DECISION_FILE, out)
    return out
