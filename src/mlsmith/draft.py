"""``mlsmith init``: draft a commented problem.yaml from a data file and its target column."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .data import infer_schema, read_table
from .exceptions import DataError
from .metrics import default_metric
from .problem import _positive_class, infer_task

__all__ = ["draft_problem"]


def draft_problem(data: str | Path, target: str, output: str | Path = "problem.yaml") -> str:
    """Return the text of a problem.yaml for ``data`` with ``target``, with the decisions left open.

    The task type is inferred from the target, the suggested metric accounts for class imbalance,
    and id-like columns are listed; keys a person must decide are marked ``TODO: decide``.
    ``data.path`` is written relative to the folder of ``output`` (where the spec will be saved),
    since a run reads it from there. The proposed positive class is the one a run picks when the
    spec names none (:func:`mlsmith.problem.Problem.resolve`): a ``1``/``true``/``yes`` label, else
    the rarer class, the event the model looks for.

    Parameters
    ----------
    data : str or pathlib.Path
        The data file (CSV, Parquet or Excel).
    target : str
        The column to predict.
    output : str or pathlib.Path, default="problem.yaml"
        Where the spec will be saved; ``data.path`` is written relative to its folder.

    Returns
    -------
    str
        The problem.yaml text, with comments on each proposal (nothing is written).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> pd.DataFrame({"x": range(40), "y": [0] * 35 + [1] * 5}).to_csv(path, index=False)
    >>> print(draft_problem(path, "y").split("success_metric: ")[1].splitlines()[0])
    average_precision   # minority/majority = 0.14: imbalance-aware
    """
    data = Path(data)
    df = read_table(data)
    if target not in df.columns:
        from difflib import get_close_matches

        close = get_close_matches(target, [str(c) for c in df.columns], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" Columns: {', '.join(map(str, df.columns[:12]))}."
        raise DataError(f"target '{target}' is not a column of {data.name}.{hint}")
    y = df[target].dropna()
    task = infer_task(y)
    ratio = None
    if task != "regression":
        counts = y.value_counts()
        ratio = float(counts.min() / counts.max())
    metric = default_metric(task, ratio)
    why = f"minority/majority = {ratio:.2f}: imbalance-aware" if ratio is not None and ratio < 0.2 else "a sound default"
    schema = infer_schema(df, target)
    ids = [c.name for c in schema.columns if c.role == "id"]
    dates = [c.name for c in schema.columns if c.role == "datetime"]
    positive = ""
    if task == "binary_classification":
        values = sorted(map(str, y.unique()))
        chosen = _positive_class(None, y.value_counts(), target)
        # quoted: YAML would read a bare yes/no/on/off label as a boolean
        shown = json.dumps(chosen) if isinstance(chosen, str) else chosen
        positive = f"positive_class: {shown}   # the event the model looks for; one of {values}\n"
    baseline = "method: majority   # TODO: decide: today's rule as a pandas expression, e.g. rule: \"tenure_months < 3\"" \
        if task != "regression" else "method: mean   # TODO: decide: median, or rule: an expression that predicts the value"
    time_hint = f"  # time-ordered split: set time_column to one of {dates}\n" if dates else ""
    return f"""\
# problem.yaml drafted by `mlsmith init` from {data.name} ({len(df):,} rows, {df.shape[1]} columns).
# Keys marked TODO are decisions only you can make; the draft runs as it is, with neutral defaults.
name: {data.stem.replace('_', ' ').title()}
decision: null   # TODO: decide: what decision will this model support?
type: {task}   # inferred from the target
target: {target}
{positive}success_metric: {metric}   # {why}
threshold: null   # TODO: decide: the value of {metric} on the test split that counts as success
secondary_metrics: []
baseline:
  {baseline}
constraints:
  latency_ms: null          # e.g. 100: single-row prediction must be faster
  interpretability: medium  # high | medium | low
  time_budget_s: 600
data:
  path: {json.dumps(_relative(data, Path(output)))}
  id_columns: {ids}   # inferred: a distinct value in (almost) every row
  drop: []
  time_column: null
{time_hint}  group_column: null
split: {{test_size: 0.2, cv_folds: 5}}
seed: 42
"""


def _relative(data: Path, output: Path) -> str:
    """``data`` as a path relative to the folder ``output`` is written in (absolute across drives)."""
    try:
        return Path(os.path.relpath(data.resolve(), output.resolve().parent)).as_posix()
    except ValueError:  # another drive on Windows: no relative path exists
        return data.resolve().as_posix()
