"""A run's model bundle, assembled: its metadata, its files (model card, ONNX graph, monitoring
reference) and the check that the saved bundle predicts what the fitted model predicts.

The workflow hands over what the stages found; what a bundle records and how it is verified is
decided here, beside the bundle's format.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import fingerprint
from ..exceptions import BundleError
from ..runs import to_jsonable
from ._bundle import PIPELINE_FILE, REFERENCE_FILE, ModelBundle, refused_types, save_bundle
from ._card import bundle_extras
from ._explain import reference_row

__all__ = ["bundle_metadata", "library_versions", "write_bundle"]

def bundle_metadata(problem, classes: list[Any], evaluation, model: str, train: pd.DataFrame, X: pd.DataFrame,
                    n_fit: int) -> dict[str, Any]:
    """What a bundle records about its run: the problem, the classes and threshold, the scores, the seed,
    the training data's fingerprint, the explanation reference row and the library versions."""
    return {
        "problem": problem.name,
        "task": problem.type,
        "target": problem.target,
        "classes": classes,
        "positive_class": problem.positive_class,
        "decision_threshold": evaluation.decision_threshold,
        "model": model,
        "success_metric": problem.success_metric,
        "test_metrics": evaluation.test_metrics,
        "seed": problem.seed,
        "data_fingerprint": fingerprint(train),
        "explanation_reference": reference_row(X),
        "n_train": n_fit,
        "fit_on": problem.split.refit,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }


def write_bundle(path: Path, model, schema, metadata: dict[str, Any], reference: dict[str, Any],
                 X_test: pd.DataFrame, spec: dict[str, Any], evaluation: dict[str, Any], notes: list[str],
                 user_family: bool = False) -> dict[str, Any]:
    """Save the bundle (model card and ONNX graph included) and check it; what the run records of it.

    ``metadata`` gains the ONNX export's outcome. The returned dict holds the model card's and the
    ONNX export's information, and ``trust``: the types loading the bundle must be told to trust
    (for a family of the user's own; see :func:`check_saved`).
    """
    extras, info = bundle_extras(model, X_test, spec, metadata, evaluation, notes)
    metadata["onnx"] = {key: info["onnx"][key] for key in ("converted", "reason")}  # why, when it did not
    save_bundle(path, model, schema, metadata,
                extra_files={REFERENCE_FILE: json.dumps(to_jsonable(reference), allow_nan=False), **extras})
    trust = check_saved(path, model, X_test, user_family=user_family)
    return {**info, **({"trust": trust} if trust else {})}


def check_saved(path: Path, fitted, X_test: pd.DataFrame, user_family: bool = False) -> list[str]:
    """Load the saved bundle back and check it predicts what the fitted model predicts: the same
    probabilities (a regressor: values), and a classifier the same labels.

    Returns the types that loading the bundle must be told to trust (``--trust``): none for the
    catalog's families, whose types mlsmith trusts. A family of the user's own is loaded trusting
    them (its class and what the class stores), since the spec named that class and this process
    wrote the file; elsewhere, loading it is refused until they are named.
    """
    trust = refused_types(path / PIPELINE_FILE)
    saved = ModelBundle.load(path, trusted=trust if user_family else ())
    rows = X_test.head(50)
    method = "predict_proba" if hasattr(fitted, "predict_proba") else "predict"
    expected, got = getattr(fitted, method)(rows), getattr(saved.pipeline, method)(rows)
    same = np.allclose(np.asarray(expected, dtype=float), np.asarray(got, dtype=float), equal_nan=True)
    if method == "predict_proba":
        fitted_labels, saved_labels = (np.asarray(m.predict(rows), dtype=object) for m in (fitted, saved.pipeline))
        same &= np.array_equal(fitted_labels, saved_labels)
    if not same:
        raise BundleError(f"the saved model bundle '{path}' does not reproduce the fitted model's predictions; "
                          "report this with the run's problem.yaml.")
    return trust


def library_versions() -> dict[str, str]:
    names = ["mlsmith", "scikit-learn", "numpy", "pandas", "scipy", "lightgbm", "xgboost-cpu", "xgboost", "skops",
             "optuna", "joblib", "dask", "distributed"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out
