"""The problem definition: :class:`Problem`, the sections of problem.yaml put together, with the
checks that read two sections at once.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from ..metrics import METRICS, get_metric
from ._messages import entry_error
from ._resolve import resolve_problem, threshold_error
from ._sections import (
    Baseline,
    Constraints,
    DataSpec,
    Fairness,
    FeaturesSpec,
    ModelSpec,
    SplitSpec,
    TaskType,
    TuningSpec,
    _Spec,
)

__all__ = ["Problem"]


class Problem(_Spec):
    """A validated, immutable problem definition: the keys of problem.yaml.

    Only ``target`` (and a data source, in ``data`` or passed to :func:`mlsmith.run`) is required;
    every other key has a default that the run records.

    Parameters
    ----------
    name : str, default="Untitled problem"
        The problem's name; it names the run folders.
    decision : str, optional
        The business decision the model informs.
    type : {"binary_classification", "multiclass_classification", "regression"}, optional
        The task; inferred from the target when None (:meth:`resolve`).
    target : str
        The column to predict.
    positive_class : str, int, float or bool, optional
        The class a binary task looks for; default: a ``1``/``true``/``yes`` label, else the rarer.
    success_metric : str, optional
        The metric the verdict judges; default: one suited to the task and its class balance.
    threshold : float, optional
        The success criterion: the value the success metric must reach on the test split.
    secondary_metrics : list of str, default=[]
        More metrics to report.
    baseline : Baseline, optional
        A rule (a pandas expression predicting the positive class) or a method (``majority``,
        ``mean``, ``median``) to beat, with its known figures if any.
    constraints : Constraints
        Latency, interpretability, retraining frequency and time budgets.
    fairness : Fairness
        The sensitive columns the metrics are reported per group of.
    stakeholders : list of str, default=[]
        Who uses the model's decisions (recorded).
    data_sources : list of str, default=[]
        Where the data comes from (recorded).
    data : DataSpec
        Where the data is (``path``, or ``url`` with ``query`` or ``table``) and the columns' roles
        (ids, dropped, time, group).
    split : SplitSpec
        The test share, the number of CV folds and what the bundle is refit on.
    models : list of str or ModelSpec, optional
        The families to compare (catalog names or the user's own); default: the recommender's shortlist.
    features : FeaturesSpec
        Feature engineering: ``auto``, ``none`` or the declared transforms.
    tuning : TuningSpec
        The search method, its budget and spaces, and whether to draw learning curves.
    seed : int, default=42
        The one seed every split, CV splitter, estimator and search gets.
    base_dir : str, default="."
        The folder relative data paths are read from (the problem file's); not written back.

    Examples
    --------
    >>> p = Problem(target="churned", data={"path": "churn.csv"}, success_metric="recall", threshold=0.8)
    >>> p.seed, p.split.test_size, p.direction
    (42, 0.2, 'higher')
    """

    name: str = "Untitled problem"
    decision: str | None = None
    type: TaskType | None = None
    target: str
    positive_class: str | int | float | bool | None = None
    success_metric: str | None = None
    threshold: float | None = None
    secondary_metrics: list[str] = []
    baseline: Baseline | None = None
    constraints: Constraints = Constraints()
    fairness: Fairness = Fairness()
    stakeholders: list[str] = []
    data_sources: list[str] = []
    data: DataSpec = DataSpec()
    split: SplitSpec = SplitSpec()
    models: list[str | ModelSpec] | None = None
    features: FeaturesSpec = FeaturesSpec()
    tuning: TuningSpec = TuningSpec()
    seed: int = Field(default=42, ge=0, lt=2**32)
    base_dir: str = Field(default=".", exclude=True)

    @field_validator("models", mode="before")
    @classmethod
    def _known_models(cls, value: Any, info: ValidationInfo) -> Any:
        """Each entry is a catalog family, or a user's own whose class is imported and checked here,
        before any data is read (see :func:`mlsmith.catalog.user_family`)."""
        if not isinstance(value, list):
            return value
        # imported when used: the catalog loads every family's estimator modules (about 0.6 s), which
        # reading a spec without 'models' or 'tuning' never needs
        from ..catalog import CATALOG, task_kind, user_family

        out, names = [], set()
        for i, entry in enumerate(value):
            if isinstance(entry, dict):
                try:
                    entry = ModelSpec.model_validate(entry)
                except ValidationError as exc:
                    raise ValueError(entry_error(i, value[i], exc.errors()[0])) from None
            if isinstance(entry, ModelSpec):
                if entry.name in CATALOG:
                    raise ValueError(f"entry '{entry.name}' has the name of a built-in family; give your own "
                                     f"family another name, e.g. 'name: my_{entry.name}'")
                family = user_family(entry)
                task = info.data.get("type")
                if task and not family.supports(task):
                    paths = ", ".join(family.estimator.values())
                    raise ValueError(f"entry '{entry.name}' ({paths}) does not apply to {task.replace('_', ' ')}; "
                                     f"give 'estimator: {{{task_kind(task)}: module.Class}}'")
            elif isinstance(entry, str) and entry not in CATALOG:
                raise ValueError(f"unknown family {entry!r}; choose from {', '.join(CATALOG)}, or add your own with "
                                 f"{{name: {entry}, estimator: module.Class}}")
            name = entry if isinstance(entry, str) else getattr(entry, "name", None)
            if name in names:
                raise ValueError(f"family {name!r} is listed twice; list each family once")
            names.add(name)
            out.append(entry)
        return out

    @field_validator("tuning")
    @classmethod
    def _spaces_of_known_families(cls, value: TuningSpec, info: ValidationInfo) -> TuningSpec:
        from ..catalog import CATALOG, model_names

        known = [*CATALOG, *(n for n in model_names(info.data.get("models")) if n not in CATALOG)]
        for family in value.spaces:
            if family not in known:
                raise ValueError(f"'spaces' names unknown family '{family}'; choose from {', '.join(known)}")
        return value

    @field_validator("success_metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None:
            get_metric(value)
        return value

    @field_validator("secondary_metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        for name in value:
            get_metric(name)
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold_in_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        metric = info.data.get("success_metric")
        if value is not None and metric in METRICS:
            message = threshold_error(metric, value)
            if message:
                raise ValueError(message)
        return value

    @property
    def direction(self) -> Literal["higher", "lower"] | None:
        """Whether the success metric must be at least (higher) or at most (lower) the threshold."""
        if self.success_metric is None:
            return None
        return "higher" if get_metric(self.success_metric).greater_is_better else "lower"

    def task_and_metric(self) -> tuple[TaskType, str]:
        """The task type and success metric of a resolved problem (:meth:`resolve` fills both in).

        Examples
        --------
        >>> Problem(target="y", type="regression", success_metric="rmse").task_and_metric()
        ('regression', 'rmse')
        >>> Problem(target="y").task_and_metric()
        Traceback (most recent call last):
        ...
        ValueError: the problem is not resolved (its type is None, its success_metric None): call problem.resolve(y) first
        """
        if self.type is None or self.success_metric is None:
            raise ValueError(f"the problem is not resolved (its type is {self.type}, its success_metric "
                             f"{self.success_metric}): call problem.resolve(y) first")
        return self.type, self.success_metric

    @property
    def is_classification(self) -> bool:
        return self.type in ("binary_classification", "multiclass_classification")

    def resolve(self, y: pd.Series) -> "Problem":
        """Fill in what depends on the target: task type, positive class, metric, baseline.

        Raises :class:`~mlsmith.exceptions.ProblemSpecError` when the spec contradicts the data.
        """
        return resolve_problem(self, y)

    def to_yaml_dict(self) -> dict[str, Any]:
        """The spec as plain data, with the defaults filled in (as written to the run folder)."""
        return self.model_dump(mode="json", exclude_none=False)

    def _repr_html_(self) -> str:
        from ..report._html import render_section

        return render_section("problem", self.to_yaml_dict())
