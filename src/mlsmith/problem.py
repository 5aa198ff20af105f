"""Stage 1: the problem definition, read from problem.yaml and validated.

A :class:`Problem` answers the five questions of a problem definition — the decision, the target,
the success metric and its threshold, the baseline, the constraints — and says where the data is,
how to split it and which seed to use. Only ``target`` and ``data`` are required (``data`` may be
left out when the table is passed to the call: ``mlsmith.run(problem, data=df)``).

Some answers depend on the data (the task type, the positive class, a default metric);
:meth:`Problem.resolve` fills them in once the target column is known, and the run records the
resolved spec.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from .exceptions import ECHO_LIMIT, ProblemSpecError, echo_value
from .metrics import METRICS, default_metric, get_metric

__all__ = [
    "Baseline",
    "Constraints",
    "DataSpec",
    "Fairness",
    "FeatureSpec",
    "FeaturesSpec",
    "ModelSpec",
    "ModelTraits",
    "Problem",
    "SplitSpec",
    "TuningSpec",
    "load_problem",
    "mask_url",
    "resolve_url",
    "url_secrets",
]

TaskType = Literal["binary_classification", "multiclass_classification", "regression"]
Role = Literal["numeric", "categorical", "boolean", "datetime", "text", "id"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Baseline(_Spec):
    """The current way the decision is made, which the model must beat.

    ``rule`` is an expression over the columns (see :mod:`mlsmith._rule`: comparisons, and/or/not,
    arithmetic, ``in``, ``isna``; nothing that runs code) that is true for the positive class (or, for
    regression, evaluates to the predicted value); ``method`` is ``majority`` (classification) or
    ``mean`` / ``median`` (regression). Any other key holds a figure already known for the
    baseline (``recall: 0.55``), kept for the record.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    rule: str | None = None
    method: Literal["majority", "mean", "median"] | None = None

    @field_validator("rule")
    @classmethod
    def _rule_language(cls, value: str | None) -> str | None:
        """The rule is data: parsed against the rule language's whitelist here, before anything runs."""
        if value is not None:
            from ._rule import RuleError, parse_rule

            try:
                parse_rule(value)
            except RuleError as exc:
                raise ValueError(f"the rule {echo_value(value)} is refused: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> "Baseline":
        if self.rule and self.method:
            raise ValueError("give either 'rule' or 'method', not both")
        for key, value in (self.model_extra or {}).items():
            if key not in METRICS or not isinstance(value, (int, float)):
                raise ValueError(
                    f"baseline key '{key}' is not a metric with a number; known figures are given as "
                    "'<metric>: <value>', e.g. 'recall: 0.55'"
                )
        return self

    @property
    def known_metrics(self) -> dict[str, float]:
        """Figures documented for the baseline in the spec."""
        return {k: float(v) for k, v in (self.model_extra or {}).items()}


class Constraints(_Spec):
    """Operating constraints, each checked by measurement where it can be."""

    latency_ms: float | None = Field(default=None, gt=0)
    interpretability: Literal["high", "medium", "low"] = "medium"
    retraining_frequency: str | None = None
    time_budget_s: float | None = Field(default=None, gt=0)
    family_time_budget_s: float | None = Field(default=None, gt=0)


class TuningSpec(_Spec):
    """Stage 6: how the chosen family is tuned.

    ``method`` is ``bayes`` (Optuna TPE, unpromising trials pruned fold by fold), ``random``,
    ``grid`` or ``none``. The budget is ``n_trials`` (deterministic for a seed), ``timeout_s``
    (recorded with the number of trials it allowed), or both: whichever ends first. ``spaces``
    overrides a family's search space, e.g. ``{random_forest: {max_depth: {int: [2, 20]}}}``.

    Examples
    --------
    >>> TuningSpec(method="random", n_trials=5).timeout_s is None
    True
    """

    method: Literal["bayes", "random", "grid", "none"] = "bayes"
    n_trials: int | None = Field(default=15, ge=1, le=1000)
    timeout_s: float | None = Field(default=None, gt=0)
    spaces: dict[str, dict[str, Any]] = {}
    learning_curve: bool = True

    @model_validator(mode="after")
    def _budget(self) -> "TuningSpec":
        if self.n_trials is None and self.timeout_s is None:
            raise ValueError("give a budget: 'n_trials: 20', 'timeout_s: 120', or both")
        return self


class Fairness(_Spec):
    """Columns whose groups the model must serve alike: the success metric is reported per group.

    A sensitive column need not be a feature (it can be listed in ``data.drop``); it only has to
    be in the data.
    """

    sensitive_columns: list[str] = []


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*:)(?P<secret>[^@/?#]*)(?=@)")
#: Query keys whose values are credentials, masked wherever a URL is stored or printed.
_SECRET_KEYS = ("password", "passwd", "pwd", "pass", "token", "access_token", "auth_token", "secret", "api_key",
                "apikey", "sslpassword", "private_key", "credentials")
_URL_QUERY_SECRET = re.compile(r"(?P<head>[?&;](?:" + "|".join(_SECRET_KEYS) + r")=)(?P<secret>[^&;#]*)",
                               re.IGNORECASE)


def mask_url(url: str) -> str:
    """``url`` with its password and credential query values replaced by ``***``.

    A ``${VARIABLE}`` reference is kept as written: it names where the secret is, not the secret.

    Examples
    --------
    >>> mask_url("postgresql://ana:s3cret@db:5432/crm?sslmode=require&password=x1")
    'postgresql://ana:***@db:5432/crm?sslmode=require&password=***'
    >>> mask_url("postgresql://ana:${PGPASSWORD}@db/crm")
    'postgresql://ana:${PGPASSWORD}@db/crm'
    """
    def hide(match: re.Match) -> str:
        secret = match.group("secret")
        return match.group("head") + (secret if not secret or _ENV_REFERENCE.fullmatch(secret) else "***")

    return _URL_QUERY_SECRET.sub(hide, _URL_PASSWORD.sub(hide, url))


def url_secrets(url: str) -> list[str]:
    """The credentials written in ``url`` (its password and credential query values), longest first.

    >>> url_secrets("mysql://ana:pw1@db/crm?token=t0k")
    ['pw1', 't0k']
    """
    found = [m.group("secret") for m in (*_URL_PASSWORD.finditer(url), *_URL_QUERY_SECRET.finditer(url))]
    return sorted({f for f in found if f}, key=lambda f: (-len(f), f))


def resolve_url(url: str) -> str:
    """``url`` with each ``${VARIABLE}`` replaced by its value from the environment (at read time only).

    Raises :class:`~mlsmith.exceptions.ProblemSpecError` naming a variable that is not set.
    """
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ProblemSpecError(f"'data.url' refers to ${{{name}}}, which is not set in the environment; "
                                   f"set it (export {name}=...) before the run.")
        return os.environ[name]

    return _ENV_REFERENCE.sub(value, url)


class DataSpec(_Spec):
    """Where the data is and what its columns are.

    One source: ``path`` (a CSV, Parquet or Excel file, a folder of Parquet files or a glob such as
    ``data/year=*/*.parquet``, relative to problem.yaml) or ``url`` with ``query`` or ``table`` (any
    SQLAlchemy URL; ``sqlite:///file.db`` and ``duckdb:///file.db`` need nothing extra). The URL may
    hold ``${VARIABLE}`` references, replaced from the environment when the data is read; a password
    written in it is masked (``***``) wherever the spec is stored or printed.

    A spec may give no source when the table is passed to the call instead
    (``mlsmith.run(problem, data=df)``); the run then records the table it was given in ``frame``
    (``<polars.DataFrame 344 x 8, fingerprint ...>``), which describes the data and is never read.

    ``event_time`` names the column holding when the outcome happened; ``prediction_time`` names
    the column holding when each prediction is made, or gives one date for all rows. With either,
    the guards flag date columns recorded after it (known only once the outcome is).
    """

    path: str | None = None
    url: str | None = Field(default=None, repr=False)
    query: str | None = None
    table: str | None = None
    frame: str | None = None
    id_columns: list[str] = []
    drop: list[str] = []
    time_column: str | None = None
    group_column: str | None = None
    event_time: str | None = None
    prediction_time: str | None = None
    roles: dict[str, Role] = {}

    @field_serializer("url")
    def _masked(self, url: str | None) -> str | None:
        return None if url is None else mask_url(url)

    @model_validator(mode="after")
    def _one_source(self) -> "DataSpec":
        if self.path and self.url:
            raise ValueError(
                "give exactly one data source: 'path: data.csv' (CSV or Parquet) or "
                "'url: sqlite:///data.db' with 'query: SELECT ...'"
            )
        if self.url and bool(self.query) == bool(self.table):
            raise ValueError("'url' needs a 'query' or a 'table' (one of them), e.g. 'query: SELECT * FROM customers' "
                             "or 'table: customers'")
        if (self.query or self.table) and not self.url:
            raise ValueError("'query' and 'table' read from a database: add its 'url', e.g. 'url: duckdb:///churn.db'")
        return self


class SplitSpec(_Spec):
    """How the held-out test split and the cross-validation folds are made."""

    test_size: float = Field(default=0.2, gt=0, lt=1)
    cv_folds: int = Field(default=5, ge=2, le=20)
    #: The rows the shipped model is fit on: ``train``, the model the test split judged; or ``all``,
    #: refit on train + test once the verdict is in (more data, same pipeline; its test scores are
    #: the judged model's, an estimate it should meet or beat).
    refit: Literal["train", "all"] = "train"


FeatureKind = Literal[
    "dates", "elapsed", "log", "bin", "polynomial", "interaction", "ratio", "target_encoding", "aggregate"
]
_PAIR_KINDS = ("elapsed", "interaction", "ratio")


class FeatureSpec(_Spec):
    """One declared transform: its kind, the column(s) it reads and the options of that kind.

    ``column: x`` is short for ``columns: [x]``. ``pinned: true`` keeps it even when the measured
    gain says it hurts. Options: ``country`` (dates), ``negative`` (log: signed | clip),
    ``strategy``, ``n_bins``, ``edges``, ``labels`` (bin), ``degree`` (polynomial), ``by`` and
    ``stats`` (aggregate).
    """

    kind: FeatureKind
    columns: list[str] = Field(min_length=1)
    pinned: bool = False
    reason: str | None = None
    country: str | None = None
    negative: Literal["signed", "clip"] = "signed"
    strategy: Literal["quantile", "uniform", "fixed"] = "quantile"
    n_bins: int = Field(default=5, ge=2, le=100)
    edges: list[float] | None = None
    labels: list[str] | None = None
    degree: int = Field(default=2, ge=2, le=4)
    by: str | None = None
    stats: list[Literal["mean", "sum", "count", "last"]] = ["mean", "count"]

    @model_validator(mode="before")
    @classmethod
    def _column_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "column" in data and "columns" not in data:
            data = {**{k: v for k, v in data.items() if k != "column"}, "columns": [data["column"]]}
        return data

    @model_validator(mode="after")
    def _kind_options(self) -> "FeatureSpec":
        if self.kind in _PAIR_KINDS and len(self.columns) != 2:
            raise ValueError(f"a '{self.kind}' transform reads exactly two columns; got {self.columns}, e.g. 'columns: [debt, income]'")
        if self.kind == "aggregate" and not self.by:
            raise ValueError(f"an 'aggregate' transform needs 'by', the key to group by, e.g. 'by: customer_id'; got columns {self.columns}")
        if self.kind == "bin" and self.strategy == "fixed" and not self.edges:
            raise ValueError("a 'bin' transform with 'strategy: fixed' needs 'edges', e.g. 'edges: [18, 65]'")
        return self


class FeaturesSpec(_Spec):
    """The ``features:`` section: ``auto`` (the default), ``none``, or a list of transforms.

    In ``auto`` mode, ``transforms`` listed under it are added to the suggested plan (replacing a
    suggestion of the same kind on the same columns).
    """

    mode: Literal["auto", "none", "declared"] = "auto"
    holidays_country: str | None = None
    transforms: list[FeatureSpec] = []

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data is None or isinstance(data, str):
            if data not in (None, "auto", "none"):
                raise ValueError(f"must be 'auto', 'none' or a list of transforms; got {data!r}")
            return {"mode": data or "none"}
        if isinstance(data, list):
            return {"mode": "declared", "transforms": data}
        return data


#: A parameter of a user's estimator: what YAML writes plainly (never an object built from text).
_PLAIN = (str, int, float, bool, type(None))
_SPEED = Literal["instant", "very fast", "fast", "medium", "slow", "unknown"]


class ModelTraits(_Spec):
    """What the comparison table says of a user's family (see :class:`mlsmith.catalog.Family`).

    ``needs_scaling`` (default true: scaling never changes a tree's splits and is what linear and
    distance models need) decides whether its numeric features are standardised;
    ``handles_missing`` defaults to the class's ``allow_nan`` tag; ``interpretability`` (default
    low: ``high`` or ``very high`` keeps the family under ``constraints.interpretability: high``)
    and the speeds feed the shortlist's reasons.
    """

    needs_scaling: bool = True
    handles_missing: Literal["yes", "yes (some)", "no", "depends"] | None = None
    interpretability: Literal["very high", "high", "medium", "low"] = "low"
    training_speed: _SPEED = "unknown"
    prediction_speed: _SPEED = "unknown"


class ModelSpec(_Spec):
    """A family of the user's own in ``models:``: a scikit-learn estimator class by import path.

    ``estimator`` is ``module.Class`` (the class's kind, classifier or regressor, decides the task
    it serves) or ``{classification: module.Class, regression: module.Class}``. ``params`` are
    plain values (numbers, text, true/false, null, lists of those); ``space`` is a search space in
    the form of ``tuning.spaces``; ``label`` names it in reports (default: the class name).

    Examples
    --------
    >>> spec = ModelSpec(name="extra_trees", estimator="sklearn.ensemble.ExtraTreesClassifier",
    ...                  params={"n_estimators": 50}, space={"max_depth": {"int": [2, 12]}})
    >>> spec.traits.needs_scaling
    True
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    estimator: str | dict[Literal["classification", "regression"], str]
    params: dict[str, Any] = {}
    space: dict[str, Any] = {}
    traits: ModelTraits = ModelTraits()
    label: str | None = Field(default=None, max_length=80)

    @field_validator("estimator")
    @classmethod
    def _one_class_per_kind(cls, value):
        if isinstance(value, dict) and not value:
            raise ValueError("give an import path, or {classification: module.Class, regression: module.Class}")
        return value

    @field_validator("params")
    @classmethod
    def _plain_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            items = item if isinstance(item, list) else [item]
            if not all(isinstance(i, _PLAIN) for i in items):
                raise ValueError(f"params.{key} must be a number, text, true/false, null or a list of those; got "
                                 f"{echo_value(item)} (an object cannot be built from problem.yaml)")
        return value


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
        from .catalog import CATALOG, task_kind, user_family  # imported late: the catalog imports this module

        out, names = [], set()
        for i, entry in enumerate(value):
            if isinstance(entry, dict):
                try:
                    entry = ModelSpec.model_validate(entry)
                except ValidationError as exc:
                    raise ValueError(_entry_error(i, value[i], exc.errors()[0])) from None
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
        from .catalog import CATALOG, model_names

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
        y = y.dropna()
        task = self.type or infer_task(y)
        updates: dict[str, Any] = {"type": task}
        n_unique = y.nunique()
        if task != "regression" and n_unique < 2:
            raise ProblemSpecError(
                f"target '{self.target}' has a single class ({_plain(y.iloc[0])!r}) in {len(y)} rows; a classifier "
                "needs at least two: check the target column or the data source."
            )
        if task == "binary_classification" and n_unique != 2:
            raise ProblemSpecError(
                f"type is binary_classification but target '{self.target}' has {n_unique} classes; "
                "set 'type: multiclass_classification' or check the target column."
            )
        if task == "regression" and not pd.api.types.is_numeric_dtype(y):
            sample = ", ".join(repr(v) for v in y.unique()[:3])
            raise ProblemSpecError(
                f"type is regression but target '{self.target}' is not numeric (values like {sample}); "
                "use a classification type or convert the target to numbers."
            )
        counts = y.value_counts()
        ratio = float(counts.min() / counts.max()) if task != "regression" else None
        if task == "binary_classification":
            updates["positive_class"] = _positive_class(self.positive_class, counts, self.target)
        elif self.positive_class is not None:
            raise ProblemSpecError(
                f"'positive_class' applies to binary targets only; got {self.positive_class!r} for a "
                f"{task.replace('_', ' ')} target: remove it."
            )
        metric = self.success_metric or default_metric(task, ratio)
        for name in [metric, *self.secondary_metrics]:
            if task not in get_metric(name).funcs:
                valid = ", ".join(m for m, spec in METRICS.items() if task in spec.funcs)
                raise ProblemSpecError(
                    f"problem.yaml: metric '{name}' does not apply to a {task} task; choose one of {valid}."
                )
        updates["success_metric"] = metric
        if self.success_metric is None and self.threshold is not None and threshold_error(metric, self.threshold):
            raise ProblemSpecError(f"problem.yaml: 'threshold': {threshold_error(metric, self.threshold)} "
                                   f"({metric} is the default metric here; name it in 'success_metric').")
        if self.baseline is None:
            updates["baseline"] = Baseline(method="majority" if task != "regression" else "mean")
        elif self.baseline.method and (self.baseline.method == "majority") != (task != "regression"):
            want = "majority" if task != "regression" else "mean or median"
            raise ProblemSpecError(
                f"problem.yaml: baseline method '{self.baseline.method}' does not fit a {task} task; use {want}."
            )
        return self.model_copy(update=updates)

    def to_yaml_dict(self) -> dict[str, Any]:
        """The spec as plain data, with the defaults filled in (as written to the run folder)."""
        return self.model_dump(mode="json", exclude_none=False)

    def _repr_html_(self) -> str:
        from .report._html import render_section

        return render_section("problem", self.to_yaml_dict())


def _entry_error(index: int, raw: Any, error: Mapping[str, Any]) -> str:
    """One line for the first error in the ``index``-th ``models:`` entry."""
    name = raw.get("name") if isinstance(raw, dict) else None
    what = f"entry {name!r}" if isinstance(name, str) else f"entry {index + 1}"
    loc = ".".join(str(p) for p in error["loc"] if not isinstance(p, int) and p not in ("str", "dict[...]"))
    if error["type"] == "missing":
        return f"{what} needs '{loc}', e.g. '{_EXAMPLES.get(loc, loc + ': ...')}'"
    if error["type"] == "extra_forbidden":
        close = get_close_matches(loc.rsplit(".", 1)[-1], list(ModelSpec.model_fields), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(ModelSpec.model_fields)}"
        return f"{what}: unknown key '{loc}'{hint}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":  # our own sentence, which names the value
        return f"{what}: {message}"
    return f"{what}: '{loc}' {message[0].lower()}{message[1:]}; got {echo_value(error.get('input'))}"


#: The values each metric can take: fractions, r2 (at most 1), or errors (at least 0).
_FRACTION_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "average_precision")


def threshold_error(metric: str, threshold: float) -> str | None:
    """Why ``threshold`` cannot be a value of ``metric`` (None when it can).

    Examples
    --------
    >>> threshold_error("recall", 80)
    'recall is between 0 and 1; got 80, a percentage? Write it as a fraction: threshold: 0.80'
    >>> threshold_error("rmse", 80) is None
    True
    """
    low, high = (0.0, 1.0) if metric in _FRACTION_METRICS else (-np.inf, 1.0) if metric == "r2" else (0.0, np.inf)
    if low <= threshold <= high:
        return None
    span = "at least 0" if not np.isfinite(high) else "at most 1" if not np.isfinite(low) else "between 0 and 1"
    if 2 <= threshold <= 100 and np.isfinite(high):
        return f"{metric} is {span}; got {threshold:g}, a percentage? Write it as a fraction: threshold: {threshold / 100:.2f}"
    return f"{metric} is {span}; got {threshold:g}. Set a threshold that {metric} can reach."


def infer_task(y: pd.Series) -> TaskType:
    """Infer the task type from the target values.

    Examples
    --------
    >>> infer_task(pd.Series([0, 1, 1, 0]))
    'binary_classification'
    >>> infer_task(pd.Series([0.5, 1.25, 3.0, 2.2]))
    'regression'
    >>> infer_task(pd.Series(list(range(12)) * 30))  # a count of 0 to 11: a quantity
    'regression'
    """
    y = y.dropna()
    n_unique = y.nunique()
    if n_unique == 2:
        return "binary_classification"
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return "multiclass_classification"
    values = y.to_numpy(dtype=float)
    is_integer = bool(np.all(np.mod(values, 1) == 0))
    # a count (0, 1, 2, ... past ten levels, the rare high ones missing: arrests, visits, children)
    # is a quantity, not eleven classes; class codes and ratings have few levels
    is_count = is_integer and n_unique > 10 and values.min() >= 0 and n_unique >= 0.75 * (values.max() + 1)
    if is_integer and not is_count and n_unique <= 20 and n_unique <= max(2, 0.05 * len(y)):
        return "multiclass_classification"
    return "regression"


def _positive_class(given, counts: pd.Series, target: str):
    values = list(counts.index)
    if given is not None:
        for value in values:
            if str(value).lower() == str(given).lower():
                return _plain(value)
        raise ProblemSpecError(
            f"positive_class {given!r} is not a value of target '{target}'; "
            f"the target's values are {', '.join(repr(_plain(v)) for v in values)}."
        )
    for value in values:
        if str(value).lower() in ("1", "true", "yes", "y", "positive", "pos"):
            return _plain(value)
    return _plain(counts.idxmin())


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def load_problem(path: str | Path) -> Problem:
    """Read and validate problem.yaml.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative data paths in it are read relative to its folder.

    Returns
    -------
    Problem
        The validated, immutable problem, its ``base_dir`` the file's folder.

    Raises
    ------
    ProblemSpecError
        With one line naming the field, the value seen and an accepted example.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> spec = pathlib.Path(tempfile.mkdtemp()) / "problem.yaml"
    >>> _ = spec.write_text("target: y\\ndata: {path: d.csv}\\nsuccess_metric: recal\\n")
    >>> load_problem(spec)
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.ProblemSpecError: problem.yaml: 'success_metric': unknown metric 'recal'; ...
    """
    path = Path(path)
    if not path.is_file():
        raise ProblemSpecError(f"problem file '{path}' does not exist; write one with 'mlsmith init DATA --target T'.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemSpecError(f"{path.name} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                               f"{exc.start}); save it as UTF-8.") from None
    try:
        raw = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader that also refuses aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ProblemSpecError(f"{path.name} is not valid YAML{where}: {getattr(exc, 'problem', exc)}.") from None
    if not isinstance(raw, dict):
        raise ProblemSpecError(f"{path.name} must be a mapping of keys such as 'target:' and 'data:'; got {type(raw).__name__}.")
    return parse_problem(raw, base_dir=path.resolve().parent, source=path.name)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases: a 512-byte file of nested aliases expands to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"it uses the alias '*{event.anchor}'; aliases are refused (a few nested ones expand to "
                "gigabytes): write the value out in full", event.start_mark)
        return super().compose_node(parent, index)


def parse_problem(raw: dict[str, Any], base_dir: str | Path = ".", source: str = "problem.yaml") -> Problem:
    """Validate a problem given as a mapping; errors read like those of :func:`load_problem`."""
    try:
        return Problem(**raw, base_dir=str(base_dir))
    except ValidationError as exc:
        raise ProblemSpecError(_describe(exc.errors()[0], raw, source)) from None
    except TypeError as exc:
        raise ProblemSpecError(f"{source}: {exc}.") from None


_EXAMPLES = {
    "target": "target: churned",
    "data": "data: {path: churn.csv}",
    "type": "type: binary_classification",
    "threshold": "threshold: 0.8",
    "seed": "seed: 42",
    "test_size": "split: {test_size: 0.2}",
    "cv_folds": "split: {cv_folds: 5}",
    "interpretability": "interpretability: high",
    "latency_ms": "constraints: {latency_ms: 100}",
    "time_budget_s": "constraints: {time_budget_s: 600}",
    "family_time_budget_s": "constraints: {family_time_budget_s: 60}",
    "method": "tuning: {method: bayes}",
    "n_trials": "tuning: {n_trials: 20}",
    "timeout_s": "tuning: {timeout_s: 120}",
    "name": "name: extra_trees",
    "estimator": "estimator: sklearn.ensemble.ExtraTreesClassifier",
}


def _describe(error: Mapping[str, Any], raw: dict[str, Any], source: str) -> str:
    loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
    field_path = ".".join(loc) or "(top level)"
    if len(field_path) > ECHO_LIMIT:  # a key is echoed too: cut it like a value
        field_path = f"{field_path[:ECHO_LIMIT]}..."
    kind = error["type"]
    if kind == "missing":
        example = _EXAMPLES.get(loc[-1], f"{loc[-1]}: ...")
        return f"{source}: required key '{field_path}' is missing; add e.g. '{example}'."
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = get_close_matches(loc[-1], allowed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" Known keys: {', '.join(allowed)}."
        return f"{source}: unknown key '{field_path}'.{hint}"
    message = error["msg"].removeprefix("Value error, ")
    if len(message) > 3 * ECHO_LIMIT:
        message = f"{message[:3 * ECHO_LIMIT]}..."
    if kind == "value_error":
        return f"{source}: '{field_path}': {message}"
    example = _EXAMPLES.get(loc[-1] if loc else "", "")
    example = f" Example: '{example}'." if example else ""
    return f"{source}: '{field_path}' {message.lower()}; got {echo_value(error.get('input'))}.{example}"


def _allowed_keys(loc: list[str]) -> list[str]:
    model: type[BaseModel] = Problem
    for part in loc:
        annotation = model.model_fields[part].annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            break
        model = candidates[0]
    return [name for name in model.model_fields if name != "base_dir"]
