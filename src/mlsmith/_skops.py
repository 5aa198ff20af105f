"""Which types a skops file may hold before it is loaded: loading builds them, and building a type runs its code.

skops trusts a list of its own (scikit-learn's estimators, numpy's arrays); mlsmith adds the types
its own pipelines are made of (:data:`TRUSTED_TYPES`); anything else is refused unless the caller
names it. The model bundle (``deploy``) and ``check-pipeline`` (``guards``) both read skops files, so
the rule lives here, below both.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Iterable

__all__ = ["TRUSTED_TYPES", "NotSkopsError", "refusal", "search_types", "untrusted_types"]

#: The types of mlsmith's pipelines that skops does not trust by itself: every class and function
#: that the catalog's families and the feature plan's transforms put in a pipeline, by full name.
#: No prefixes: a prefix such as ``numpy.`` also admits functions like
#: ``numpy.testing._private.utils.runstring``, which calls ``exec``. tests/test_security.py builds a
#: pipeline of every family, task and feature kind and checks this list covers it.
TRUSTED_TYPES = frozenset({
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "mlsmith.features._aggregate.GroupAggregate",
    "mlsmith.features._binning.Binning",
    "mlsmith.features._build._beyond_linear_names",
    "mlsmith.features._build.beyond_linear",
    "mlsmith.features._dates.DateFeatures",
    "mlsmith.features._dates.ElapsedDays",
    "mlsmith.features._log.LogTransform",
    "mlsmith.features._ratios.Ratios",
    "mlsmith.preprocess.DesignMatrix",
    "mlsmith.preprocess.TextSVD",
    "mlsmith.preprocess.to_category_text",
    "mlsmith.preprocess.to_float",
    "mlsmith.preprocess.to_text",
    "mlsmith.target.LabelledClassifier",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.KFold",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
})


@lru_cache(maxsize=1)
def search_types() -> frozenset[str]:
    """scikit-learn's cross-validation splitters and scorers, by full name: what a fitted search
    (``GridSearchCV``, ``RandomizedSearchCV``, ...) holds beside its estimator, and skops does not
    trust by itself. Building one runs scikit-learn's own code only; a function a scorer calls is
    checked as any other type.

    >>> "sklearn.model_selection._split.StratifiedKFold" in search_types()
    True
    """
    import inspect

    from sklearn.metrics import _scorer
    from sklearn.model_selection import _split

    return frozenset(f"{module.__name__}.{name}" for module in (_split, _scorer)
                     for name, value in vars(module).items()
                     if inspect.isclass(value) and value.__module__ == module.__name__)


class NotSkopsError(ValueError):
    """The file is not a skops file (its reason in the message, without the file's folder)."""


def untrusted_types(file: Path, trusted: Iterable[str] = ()) -> list[str]:
    """The types in the skops file ``file`` that neither skops, :data:`TRUSTED_TYPES` nor ``trusted`` trust,
    read from the file's schema without building anything.

    >>> import tempfile, skops.io as sio
    >>> from sklearn.linear_model import LogisticRegression
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sio.dump(LogisticRegression(), Path(folder) / "m.skops")
    ...     untrusted_types(Path(folder) / "m.skops")
    []
    """
    import skops.io as sio

    try:
        found = sio.get_untrusted_types(file=file)
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        raise NotSkopsError(f"{file.name} is not a skops file ({str(exc)[:200]})") from None
    allowed = TRUSTED_TYPES | set(trusted)
    return [t for t in found if t not in allowed]


def refusal(refused: list[str]) -> tuple[str, str]:
    """What a refusal says of the types refused: the first and how many more, and the flags that trust them.

    >>> refusal(["a.B", "c.D"])
    ("type 'a.B' (and 1 more)", '--trust a.B --trust c.D')
    """
    more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
    flags = " ".join(f"--trust {t}" for t in refused[:10]) + (" ..." if len(refused) > 10 else "")
    return f"type '{refused[0]}'{more}", flags
