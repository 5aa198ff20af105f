"""Preprocessing fitted outside cross-validation, in a user's own scikit-learn pipeline or search."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from .._findings import Finding
from .._skops import NotSkopsError, refusal, search_types, untrusted_types
from ..exceptions import DataError
from ..target import code_model
from ._finding import GuardReport

__all__ = ["check_pipeline", "check_pipeline_file"]


def _statistic(step: Any, X: np.ndarray) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(name, the fitted statistic, the same statistic computed on X) for the steps we can recompute."""
    with np.errstate(all="ignore"):
        if isinstance(step, StandardScaler) and getattr(step, "mean_", None) is not None:
            return "mean_", step.mean_, np.nanmean(X, axis=0)
        if isinstance(step, StandardScaler) and getattr(step, "var_", None) is not None:
            return "var_", step.var_, np.nanvar(X, axis=0)
        if isinstance(step, MinMaxScaler):
            return "data_min_", step.data_min_, np.nanmin(X, axis=0)
        if isinstance(step, MaxAbsScaler):
            return "max_abs_", step.max_abs_, np.nanmax(np.abs(X), axis=0)
        if isinstance(step, RobustScaler) and getattr(step, "center_", None) is not None:
            return "center_", step.center_, np.nanmedian(X, axis=0)
        if isinstance(step, SimpleImputer) and step.strategy in ("mean", "median"):
            stat = np.nanmean(X, axis=0) if step.strategy == "mean" else np.nanmedian(X, axis=0)
            return "statistics_", np.asarray(step.statistics_, dtype=float), stat
    return None


def _first_steps(est: Any, columns: list[Any] | None, path: str) -> Iterator[tuple[str, Any, list[Any] | None]]:
    """The fitted steps that see the raw input columns: (path, step, its columns or None for all)."""
    if isinstance(est, Pipeline):
        yield from _first_steps(est.steps[0][1], columns, f"{path}{est.steps[0][0]}")
    elif isinstance(est, ColumnTransformer) and hasattr(est, "transformers_"):
        for name, trans, cols in est.transformers_:
            if isinstance(trans, str):
                continue
            yield from _first_steps(trans, list(np.atleast_1d(cols)), f"{path}{name}/")
    else:
        yield path.rstrip("/") or type(est).__name__, est, columns


def _columns(X: pd.DataFrame, cols: list[Any] | None) -> np.ndarray | None:
    if cols is None:
        part = X
    elif all(isinstance(c, str) for c in cols):
        if not set(cols) <= set(X.columns):
            return None
        part = X[cols]
    else:
        part = X.iloc[:, cols]
    values = part.apply(pd.to_numeric, errors="coerce")
    return None if values.isna().all().any() else values.to_numpy(dtype=float)


def check_pipeline(estimator: Any, X_train: pd.DataFrame, X_full: pd.DataFrame | None = None) -> GuardReport:
    """Check a user's fitted pipeline or search for preprocessing fitted outside cross-validation.

    A scaler or imputer fitted before the split (or before cross-validation) has learned from rows it is
    then evaluated on. Where the step's statistics can be recomputed (StandardScaler, MinMaxScaler,
    MaxAbsScaler, RobustScaler, mean/median SimpleImputer), they are compared with those of the
    training rows and, if given, of the full data; a step that matches the full data and not the
    training rows was fitted before the split. Input that arrives already standardised is flagged
    too: its scaling happened outside the pipeline.

    Parameters
    ----------
    estimator : sklearn.base.BaseEstimator
        A fitted Pipeline, ColumnTransformer, transformer, or search (``GridSearchCV`` ...).
    X_train : pandas.DataFrame
        The feature rows the estimator was meant to be fitted on (the training split).
    X_full : pandas.DataFrame, optional
        All rows, before the split (train and test), when available.

    Returns
    -------
    GuardReport
        A finding for each step fitted outside cross-validation, with the statistics compared.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> X = pd.DataFrame({"a": np.arange(10.0)})
    >>> scaler = StandardScaler().fit(X)            # fitted on all ten rows ...
    >>> [f.check for f in check_pipeline(scaler, X.iloc[:7], X)]   # ... but the training rows are seven
    ['preprocessing_outside_cv']
    """
    X_train = pd.DataFrame(X_train)
    findings: list[Finding] = []
    fitted = estimator.best_estimator_ if isinstance(estimator, BaseSearchCV) and hasattr(estimator, "best_estimator_") else estimator
    fitted = code_model(fitted)[0]  # a bundle's whole model: the pipeline inside its threshold and labels
    for path, step, cols in _first_steps(fitted, None, ""):
        found = _compare(path, step, cols, X_train, X_full)
        if found:
            findings.append(found)
    findings += _prescaled(X_train, X_full)
    return GuardReport(findings)


def _compare(path: str, step: Any, cols, X_train: pd.DataFrame, X_full: pd.DataFrame | None) -> Finding | None:
    train = _columns(X_train, cols)
    if train is None:
        return None
    stat = _statistic(step, train)
    if stat is None or np.shape(stat[1]) != np.shape(stat[2]):
        return None
    name, fitted, on_train = stat
    matches_train = np.allclose(fitted, on_train, rtol=1e-6, atol=1e-9, equal_nan=True)
    seen = getattr(step, "n_samples_seen_", None)
    seen = int(np.max(seen)) if seen is not None else None
    evidence = {"step": path, "statistic": name, "n_train": len(X_train), "n_samples_seen": seen,
                "max_abs_diff_vs_train": round(float(np.nanmax(np.abs(fitted - on_train))), 6)}
    fix = (f"Put '{path}' inside the Pipeline and fit the Pipeline on the training rows only "
           "(cross_validate / GridSearchCV then refit it within each fold).")
    if X_full is not None:
        full = _columns(pd.DataFrame(X_full), cols)
        on_full = _statistic(step, full) if full is not None and not matches_train else None
        if on_full is not None and np.allclose(fitted, on_full[2], rtol=1e-6, atol=1e-9, equal_nan=True):
            evidence["n_full"] = len(X_full)
            return Finding("preprocessing_outside_cv", "error",
                           f"Step '{path}' was fitted on the full data ({len(X_full)} rows), before the split: its "
                           f"{name} equals the full data's, not the {len(X_train)} training rows'.", evidence, fix)
    if seen is not None and seen > len(X_train):
        return Finding("preprocessing_outside_cv", "error",
                       f"Step '{path}' saw {seen} rows but the training split has {len(X_train)}: it was fitted on "
                       "rows outside the training split.", evidence, fix)
    if not matches_train:
        return Finding("preprocessing_outside_cv", "warning",
                       f"Step '{path}' has a {name} that does not match the training rows: it was fitted on other rows.",
                       evidence, fix)
    return None


def _prescaled(X_train: pd.DataFrame, X_full: pd.DataFrame | None) -> list[Finding]:
    """Input already standardised (mean 0, sd 1 in every numeric column) was scaled outside the pipeline."""
    for name, X in (("full data", X_full), ("training rows", X_train)):
        if X is None:
            continue
        numeric = pd.DataFrame(X).select_dtypes("number")
        if numeric.shape[1] < 2 or len(numeric) < 20:
            continue
        means, sds = numeric.mean().abs(), numeric.std(ddof=0)
        if (means < 1e-8).all() and np.allclose(sds, 1.0, atol=1e-6):
            return [Finding(
                "preprocessing_outside_cv", "warning",
                f"Every numeric column of the {name} has mean 0 and standard deviation 1: it was standardised "
                "before it reached the pipeline, on rows that include the ones it is evaluated on.",
                {"scaled_on": name, "n_columns": int(numeric.shape[1]), "max_abs_mean": float(means.max())},
                "Pass the raw features and put the scaler in the Pipeline, so each fold fits it on its training rows.",
            )]
    return []


def check_pipeline_file(model: str | Path, train: str | Path, full: str | Path | None = None,
                        target: str | None = None, *, trusted: Iterable[str] = (),
                        allow_pickle: bool = False) -> GuardReport:
    """:func:`check_pipeline` on files: a saved estimator (.skops, .joblib, .pkl) and its data (.csv, .parquet).

    Loading a file builds what it holds, and building a type runs its code, so nothing is loaded
    on trust. A .skops file may hold the types skops trusts (scikit-learn's estimators, numpy's), those
    mlsmith's own pipelines are made of, and a search's splitter and scorer (:func:`mlsmith._skops.search_types`);
    any other type refuses the file before anything is built,
    unless it is named in ``trusted``. A .joblib or pickle file can run any code when loaded: it is
    refused unless ``allow_pickle`` says the file is the caller's own.

    Parameters
    ----------
    model : str or Path
        The fitted estimator, pipeline or search.
    train : str or Path
        The rows it was fitted on (.csv or .parquet).
    full : str or Path, optional
        Every row before the split, to tell steps fitted on them.
    target : str, optional
        The target column, dropped from the data.
    trusted : iterable of str
        Types (``package.module.Class``) a .skops file may hold beyond those trusted by default.
    allow_pickle : bool
        Load a .joblib or pickle file (it can run any code: only for files you made).

    Returns
    -------
    GuardReport
        The findings of :func:`check_pipeline`.

    Examples
    --------
    >>> import tempfile, joblib
    >>> from sklearn.preprocessing import StandardScaler
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     joblib.dump(StandardScaler(), Path(folder) / "m.joblib")
    ...     pd.DataFrame({"x": [1.0, 2.0]}).to_csv(Path(folder) / "train.csv", index=False)
    ...     check_pipeline_file(Path(folder) / "m.joblib", Path(folder) / "train.csv")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.DataError: model file 'm.joblib' is a pickle, and loading a pickle can run any code it holds; ...
    """
    from ..data import read_table

    path = Path(model)
    if not path.is_file():
        raise DataError(f"model file '{path}' does not exist; save the fitted estimator with skops or joblib first.")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        import skops.io as sio

        try:
            refused = untrusted_types(path, [*search_types(), *trusted])  # a search's splitter and scorer too
        except NotSkopsError as exc:
            raise DataError(f"model file '{path}': {exc}; save the estimator with skops.io.dump.") from None
        if refused:
            what, flags = refusal(refused)
            raise DataError(f"model file '{path.name}' holds {what}, which is not trusted by default; refusing to "
                            f"load it, since loading could run its code. If you wrote that type, trust it explicitly: "
                            f"{flags}.")
        estimator = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    elif suffix in (".joblib", ".pkl", ".pickle"):
        if not allow_pickle:
            raise DataError(
                f"model file '{path.name}' is a pickle, and loading a pickle can run any code it holds; save the "
                "estimator with skops.io.dump (.skops), or pass --allow-pickle if you made this file yourself.")
        import joblib

        estimator = joblib.load(path)
    else:
        raise DataError(f"model file '{path.name}' has an unsupported type '{suffix}'; use .skops, .joblib or .pkl.")
    if not hasattr(estimator, "fit"):
        raise DataError(f"model file '{path.name}' holds a {type(estimator).__name__}, not a scikit-learn estimator; "
                        "save the fitted estimator, pipeline or search itself.")
    X_train, X_full = read_table(train), read_table(full) if full is not None else None
    if target is not None:
        if target not in X_train.columns:
            raise DataError(f"target '{target}' is not a column of '{Path(train).name}'; check --target.")
        X_train = X_train.drop(columns=[target], errors="ignore")
        X_full = X_full.drop(columns=[target], errors="ignore") if X_full is not None else None
    return check_pipeline(estimator, X_train, X_full)
