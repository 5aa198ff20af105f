"""The sections of problem.yaml, each a frozen pydantic model validated on its own.

``Baseline``, ``Constraints``, ``TuningSpec``, ``Fairness``, ``DataSpec``, ``SplitSpec``,
``FeatureSpec`` / ``FeaturesSpec`` and ``ModelTraits`` / ``ModelSpec`` are the values of the keys
of :class:`mlsmith.problem.Problem`; a check that reads two sections at once (a threshold against
its metric, a search space against the families listed) lives on ``Problem``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from .._rule import RuleError, parse_rule
from ..exceptions import echo_value
from ..metrics import METRICS
from ._urls import mask_url

__all__ = [
    "Baseline",
    "Constraints",
    "DataSpec",
    "Fairness",
    "FeatureSpec",
    "FeaturesSpec",
    "ModelSpec",
    "ModelTraits",
    "Role",
    "SplitSpec",
    "TaskType",
    "TuningSpec",
]

TaskType = Literal["binary_classification", "multiclass_classification", "regression"]
Role = Literal["numeric", "categorical", "boolean", "datetime", "text", "id"]


class _Spec(BaseModel):
    """A section of problem.yaml: unknown keys are refused and the values are frozen."""

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
