"""The model catalog: the algorithm families mlsmith compares, with the traits of the classic table.

Each :class:`Family` says how fast it trains and predicts, whether it copes with missing values,
whether it needs scaled features and how interpretable it is, and carries the search space that
stage 6 tunes (scipy distributions and lists, the form ``RandomizedSearchCV`` takes; problem.yaml
can override it, see :func:`mlsmith._space.parse_space`).

A user adds a family of their own in problem.yaml's ``models`` (:class:`mlsmith.problem.ModelSpec`):
the import path of a scikit-learn estimator class, its parameters, search space and traits.
:func:`user_family` turns that entry into a :class:`Family`; importing the named class is the only
code the spec makes run, and the class is checked before anything is fitted (:func:`import_estimator`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import re
import sys
from dataclasses import dataclass, field
from difflib import get_close_matches
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Callable, Iterable

from scipy.stats import loguniform, randint, uniform
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ._space import parse_space
from .exceptions import echo_value

if TYPE_CHECKING:
    from .problem import ModelSpec

__all__ = ["CATALOG", "EXTRAS", "Family", "families", "family", "import_estimator", "installed",
           "model_names", "task_kind", "user_family"]

#: Families whose library comes with an extra, not with mlsmith itself: how to install it. XGBoost's CPU
#: and CUDA builds are two distributions of the same ``xgboost`` package, so neither is a dependency.
EXTRAS = {"xgboost": "pip install 'mlsmith[xgboost]' (or any xgboost build you already use)"}


def installed(family: str) -> bool:
    """Whether the library of ``family`` can be imported (looked up, not imported).

    Examples
    --------
    >>> installed("linear"), installed("lightgbm")
    (True, True)
    """
    return family not in EXTRAS or find_spec(family) is not None


@dataclass(frozen=True)
class Family:
    """An algorithm family: how to build it and what the classic comparison table says of it."""

    name: str
    label: str
    make: Callable[[str, int], Any] = field(repr=False)
    training_speed: str
    prediction_speed: str
    handles_missing: str
    needs_scaling: bool
    interpretability: str
    search_space: dict[str, Any] = field(default_factory=dict, repr=False)
    tasks: tuple[str, ...] = ("classification", "regression")
    regression_space: dict[str, Any] | None = field(default=None, repr=False)
    #: A user family's import path per task kind (``{"classification": "sklearn.ensemble...."}``);
    #: empty for the catalog's own families.
    estimator: dict[str, str] = field(default_factory=dict)

    def space(self, task: str) -> dict[str, Any]:
        """The search space for ``task`` (model parameter names, without pipeline prefixes)."""
        if task == "regression" and self.regression_space is not None:
            return self.regression_space
        return self.search_space

    def supports(self, task: str) -> bool:
        return task_kind(task) in self.tasks

    def traits(self) -> dict[str, Any]:
        traits = {
            "training_speed": self.training_speed,
            "prediction_speed": self.prediction_speed,
            "handles_missing": self.handles_missing,
            "needs_scaling": self.needs_scaling,
            "interpretability": self.interpretability,
        }
        return {**traits, "estimator": dict(self.estimator)} if self.estimator else traits

    @property
    def readable(self) -> bool:
        """Whether a person can read the fitted model (what ``interpretability: high`` keeps)."""
        return self.interpretability in ("high", "very high")


def task_kind(task: str) -> str:
    """``classification`` or ``regression``: which of a user family's classes serves ``task``."""
    return "regression" if task == "regression" else "classification"


def _clf(task: str) -> bool:
    return task != "regression"


def _xgboost(task: str, seed: int):
    import xgboost as xgb

    cls = xgb.XGBClassifier if _clf(task) else xgb.XGBRegressor
    return cls(n_estimators=300, learning_rate=0.1, max_depth=6, tree_method="hist", n_jobs=1,
               random_state=seed, verbosity=0)


def _lightgbm(task: str, seed: int):
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if _clf(task) else lgb.LGBMRegressor
    return cls(n_estimators=300, learning_rate=0.05, n_jobs=1, random_state=seed, verbosity=-1)


def _svm(task: str, seed: int):
    if not _clf(task):
        return SVR()
    # Platt scaling fitted out of fold gives the probabilities that thresholds and AUCs need.
    return CalibratedClassifierCV(SVC(random_state=seed), ensemble=False, cv=3)


_TREE_SPACE = {"max_depth": randint(2, 16), "min_samples_leaf": randint(1, 50)}
_BOOST_SPACE = {
    "n_estimators": randint(100, 800),
    "learning_rate": loguniform(0.01, 0.3),
    "max_depth": randint(3, 10),
    "subsample": uniform(0.6, 0.4),
    "colsample_bytree": uniform(0.5, 0.5),
}

CATALOG: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "linear", "Logistic / Ridge regression",
            lambda t, s: LogisticRegression(max_iter=2000, random_state=s) if _clf(t) else Ridge(random_state=s),
            "fast", "very fast", "no", True, "high",
            {"C": loguniform(1e-3, 1e2)}, regression_space={"alpha": loguniform(1e-3, 1e3)},
        ),
        Family(
            "decision_tree", "Decision tree",
            lambda t, s: (DecisionTreeClassifier if _clf(t) else DecisionTreeRegressor)(
                max_depth=8, min_samples_leaf=5, random_state=s),
            "fast", "very fast", "yes (some)", False, "very high", _TREE_SPACE,
        ),
        Family(
            "random_forest", "Random forest",
            lambda t, s: (RandomForestClassifier if _clf(t) else RandomForestRegressor)(
                n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=s),
            "medium", "medium", "yes (some)", False, "medium",
            {"n_estimators": randint(100, 600), "max_features": uniform(0.2, 0.8), **_TREE_SPACE},
        ),
        Family(
            "hist_gradient_boosting", "Gradient boosting (histogram)",
            lambda t, s: (HistGradientBoostingClassifier if _clf(t) else HistGradientBoostingRegressor)(
                random_state=s),
            "fast", "fast", "yes", False, "low",
            {"learning_rate": loguniform(0.01, 0.3), "max_leaf_nodes": randint(8, 64),
             "min_samples_leaf": randint(5, 100), "l2_regularization": loguniform(1e-4, 10)},
        ),
        Family("xgboost", "XGBoost", _xgboost, "medium", "fast", "yes", False, "low", _BOOST_SPACE),
        Family(
            "lightgbm", "LightGBM", _lightgbm, "fast", "fast", "yes", False, "low",
            {"n_estimators": randint(100, 800), "learning_rate": loguniform(0.01, 0.3),
             "num_leaves": randint(8, 128), "min_child_samples": randint(5, 100),
             "subsample": uniform(0.6, 0.4), "subsample_freq": [1], "colsample_bytree": uniform(0.5, 0.5)},
        ),
        Family(
            "svm", "SVM (RBF kernel)",
            _svm, "slow (large n)", "fast", "no", True, "low",
            {"C": loguniform(1e-2, 1e2), "gamma": loguniform(1e-4, 1)},
        ),
        Family(
            "knn", "K-nearest neighbours",
            lambda t, s: (KNeighborsClassifier if _clf(t) else KNeighborsRegressor)(n_neighbors=15),
            "none (lazy)", "slow", "no", True, "medium",
            {"n_neighbors": randint(3, 60), "weights": ["uniform", "distance"]},
        ),
        Family(
            "naive_bayes", "Naive Bayes (Gaussian)", lambda t, s: GaussianNB(),
            "very fast", "very fast", "depends", False, "high",
            {"var_smoothing": loguniform(1e-12, 1e-3)}, tasks=("classification",),
        ),
        Family(
            "dummy", "Dummy (prior / mean)",
            lambda t, s: DummyClassifier(strategy="prior") if _clf(t) else DummyRegressor(strategy="mean"),
            "instant", "instant", "yes", False, "very high",
        ),
    ]
}


# --- the user's own families ------------------------------------------------------------------------

#: An import path: identifiers joined by dots, at least ``module.Class``; nothing else is evaluated.
_IMPORT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
#: What mlsmith calls on an estimator: fitting and scoring, and cloning and tuning (the parameters).
_ESTIMATOR_METHODS = ("fit", "predict", "get_params", "set_params")
_EXAMPLE = "e.g. 'estimator: sklearn.ensemble.ExtraTreesClassifier'"


def import_estimator(path: Any, where: str = "estimator") -> type:
    """The scikit-learn estimator class at ``path`` (``module.Class``), imported and checked.

    Importing the module is the only code that runs: the path is identifiers joined by dots (no
    calls, no subscripts, no dunder names), its top-level package must be an installed distribution
    or the standard library (a ``module.py`` shipped beside a spec is never imported, even where the
    current folder is on ``sys.path``, as under ``python -m``), and the object found must be a class
    with ``fit``, ``predict``, ``get_params`` and ``set_params``.

    Raises
    ------
    ValueError
        One sentence naming ``where``, the path and the fix.

    Examples
    --------
    >>> import_estimator("sklearn.ensemble.ExtraTreesClassifier").__name__
    'ExtraTreesClassifier'
    >>> import_estimator("os.system")
    Traceback (most recent call last):
    ...
    ValueError: estimator 'os.system' is a builtin_function_or_method, not a class; ...
    """
    if (not isinstance(path, str) or not _IMPORT_PATH.fullmatch(path)
            or any(part.startswith("__") for part in path.split("."))):
        raise ValueError(f"{where} must be an import path 'module.Class' (identifiers joined by dots; no calls, "
                         f"arguments or dunder names: arguments go in 'params'); got {echo_value(path)}, {_EXAMPLE}.")
    module_name, _, class_name = path.rpartition(".")
    top = module_name.split(".")[0]
    if top not in sys.stdlib_module_names and top not in _installed_packages():
        raise ValueError(f"{where} '{path}': '{top}' is not an installed package; mlsmith imports estimator classes "
                         "only from installed packages (pip install it, or 'pip install -e' your own), never from a "
                         "file beside the spec or in the current folder.")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"{where} '{path}': no module named '{exc.name}' is installed; correct the path or install "
                         f"the package that provides it ({_EXAMPLE}).") from None
    except Exception as exc:  # the module exists but its own import failed: say why, not a traceback
        raise ValueError(f"{where} '{path}': importing '{module_name}' failed ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); fix the module or its dependencies.") from None
    obj = getattr(module, class_name, None)
    if obj is None:
        close = get_close_matches(class_name, [n for n in dir(module) if not n.startswith("_")], n=1)
        hint = f"; did you mean '{module_name}.{close[0]}'?" if close else f" ({_EXAMPLE})."
        raise ValueError(f"{where} '{path}': module '{module_name}' has no '{class_name}'{hint}")
    if not isinstance(obj, type):
        raise ValueError(f"{where} '{path}' is a {type(obj).__name__}, not a class; name a scikit-learn estimator "
                         f"class, {_EXAMPLE}.")
    missing = [m for m in _ESTIMATOR_METHODS if not callable(getattr(obj, m, None))]
    if missing:
        raise ValueError(f"{where} '{path}' is a class but not a scikit-learn estimator (no {', '.join(missing)}); "
                         f"name a class with fit, predict, get_params and set_params, {_EXAMPLE}.")
    return obj


@functools.cache
def _installed_packages() -> frozenset[str]:
    """The top-level import names of the installed distributions (read once; it scans their metadata)."""
    return frozenset(importlib.metadata.packages_distributions())


class _Imported:
    """Builds a user family's estimator: its class, imported again where it runs, with the spec's
    parameters, the problem's seed as ``random_state`` and one thread (folds run in parallel), unless
    the parameters say otherwise. Plain data, so that a family can travel to a worker."""

    def __init__(self, paths: dict[str, str], params: dict[str, Any]):
        self.paths, self.params = dict(paths), dict(params)

    def __call__(self, task: str, seed: int):
        cls = import_estimator(self.paths[task_kind(task)])
        names = cls().get_params(deep=False)
        defaults = {key: value for key, value in (("random_state", seed), ("n_jobs", 1)) if key in names}
        return cls(**{**defaults, **self.params})


def _check_class(cls: type, path: str, kind: str, params: dict[str, Any], space: dict[str, Any], where: str) -> Any:
    """An instance of ``cls`` (imported from ``path``) with ``params``, after checking it is a ``kind``
    and knows every parameter."""
    from sklearn.base import clone, is_classifier, is_regressor
    from sklearn.utils import get_tags

    try:
        names = cls().get_params(deep=False)
    except Exception as exc:
        raise ValueError(f"{where}: {cls.__name__}() cannot be built without arguments ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); mlsmith builds estimators as scikit-learn does, every argument a "
                         "keyword with a default.") from None
    for section, keys in (("params", params), ("space", space)):
        for key in keys:
            if key not in names:
                close = get_close_matches(key, list(names), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; its parameters are {', '.join(sorted(names))}."
                raise ValueError(f"{where}: {section} '{key}' is not a parameter of {cls.__name__}{hint}")
    try:
        instance = clone(cls(**params))
    except Exception as exc:
        raise ValueError(f"{where}: {cls.__name__} does not take params {echo_value(params)} ({type(exc).__name__}: "
                         f"{str(exc)[:200]}).") from None
    noun = {"classification": "classifier", "regression": "regressor"}
    found = "classification" if is_classifier(instance) else "regression" if is_regressor(instance) else None
    if found != kind:
        if found is None:
            kind_tag = getattr(get_tags(instance), "estimator_type", None)
            raise ValueError(f"{where}: {path} is neither a classifier nor a regressor by scikit-learn's tags "
                             f"(estimator_type {kind_tag!r}); name one of those.")
        raise ValueError(f"{where}: {path} is a {noun[found]}, given for {kind}; give it for {found} "
                         f"('estimator: {{{found}: {path}}}') or name a {noun[kind]}.")
    if kind == "classification" and not callable(getattr(cls, "predict_proba", None)):
        raise ValueError(f"{where}: {cls.__name__} has no predict_proba; mlsmith's classifiers give probabilities "
                         "(decision thresholds, ROC AUC, the bundle's probability column): name a classifier that "
                         "has predict_proba.")
    return instance


def user_family(spec: ModelSpec) -> Family:
    """The :class:`Family` of a ``models:`` entry of problem.yaml, its class imported and checked.

    ``spec.estimator`` is an import path, or a mapping ``{classification: ..., regression: ...}``
    with one path per task kind; a single path serves the task kind its class is made for
    (scikit-learn's ``estimator_type`` tag). Traits not given are: ``needs_scaling`` true (scaling
    never changes a tree's splits and is what linear and distance models need), ``handles_missing``
    from the class's ``allow_nan`` tag, ``interpretability`` low, speeds ``unknown``.

    Raises
    ------
    ValueError
        When a class cannot be imported, is not an estimator of the task kind it is given for, or
        does not know a parameter of ``params`` or ``space``.
    """
    from sklearn.base import is_regressor
    from sklearn.utils import get_tags

    def kind_of(cls: type) -> str:  # a class that cannot be built is reported by _check_class
        try:
            return "regression" if is_regressor(cls()) else "classification"
        except Exception:
            return "classification"

    where = f"entry '{spec.name}'"
    paths: dict[str, str]
    if isinstance(spec.estimator, str):
        cls = import_estimator(spec.estimator, f"{where}: estimator")
        paths = {kind_of(cls): spec.estimator}
    else:
        paths = {kind: path for kind, path in spec.estimator.items()}
    space = parse_space(spec.name, spec.space, where=f"models.{spec.name}.space")
    instances = {}
    for kind, path in paths.items():
        cls = import_estimator(path, f"{where}: estimator" + ("" if isinstance(spec.estimator, str) else f".{kind}"))
        instances[kind] = _check_class(cls, path, kind, spec.params, space, where)
    traits = spec.traits
    handles_missing = traits.handles_missing or (
        "yes" if all(get_tags(e).input_tags.allow_nan for e in instances.values()) else "no")
    label = spec.label or " / ".join(dict.fromkeys(type(e).__name__ for e in instances.values()))
    return Family(spec.name, label, _Imported(paths, spec.params), traits.training_speed, traits.prediction_speed,
                  handles_missing, traits.needs_scaling, traits.interpretability, space,
                  tasks=tuple(k for k in ("classification", "regression") if k in paths), estimator=paths)


def model_names(models: Iterable[str | ModelSpec] | None) -> list[str]:
    """The family names of problem.yaml's ``models`` (a name, or a user family's ``name``)."""
    return [m if isinstance(m, str) else m.name for m in models or []]


def families(models: Iterable[str | ModelSpec] | None = None) -> dict[str, Family]:
    """The catalog, with the user's own families of problem.yaml's ``models`` added after it."""
    out = dict(CATALOG)
    for entry in models or []:
        if not isinstance(entry, str):
            out[entry.name] = user_family(entry)
    return out


def family(name: str, models: Iterable[str | ModelSpec] | None = None) -> Family:
    """The family called ``name``: the catalog's, or the user's own of ``models``."""
    return CATALOG[name] if name in CATALOG else families(models)[name]
