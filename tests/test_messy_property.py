"""Messy frames through the CLI: every command exits 0, or 2 with one ``Error:`` line; never a traceback.

Hypothesis generates the tables users actually have: mixed dtypes, NaN, ±inf, empty strings, unicode,
spaces, commas and quotes in column names and labels, one-row classes, constant and all-missing
columns, tz-aware and naive datetimes, ISO strings ending in ``Z``, booleans, nullable integers,
category dtype and duplicated rows. Each frame is written to CSV or Parquet and driven through
``mlsmith run`` (cheap spec: ``models: [linear]``, no tuning), ``quality``, ``eda`` and ``predict``
as subprocesses. Besides the exit code and stderr, every command must leave no half-written output:
no staging folder or ``.tmp`` file behind, and every run folder complete.

In CI the examples are fixed (``derandomize``) and few; set ``MLSMITH_MESSY_EXAMPLES`` (and
``MLSMITH_MESSY_SEED`` for other examples) to explore more locally.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

TRACEBACK = "Traceback (most recent call last)"
N_EXAMPLES = int(os.environ.get("MLSMITH_MESSY_EXAMPLES", "12"))
SEED = os.environ.get("MLSMITH_MESSY_SEED")
SPEC = {"models": ["linear"], "tuning": {"method": "none", "learning_curve": False}}

NAMES = ["amount", "a b", " lead space", "trail space ", "ünïcødé", "名前", "col,comma", 'say "q"', "it's",
         "x.y", "1st", "Σ σ", "emoji 🐍", "UPPER", "tab\tname"]
LABELS = ["yes", "no", "naïve", "it's", 'say "hi"', "a b", " padded ", "Ünï", "名", "1", "0", "True", "NA"]
WORDS = ["", " ", "alpha", "béta", "γ", "a,b", 'q"uote', "it's", "NULL", "None", "nan", "-", "名前", "x y"]


@st.composite
def floats_messy(draw, n: int) -> pd.Series:
    special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e-300])
    values = draw(st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), special), min_size=n, max_size=n))
    return pd.Series(values, dtype=float)


def _column_kinds(n: int) -> dict[str, st.SearchStrategy[pd.Series]]:
    ints = st.lists(st.integers(-1000, 1000), min_size=n, max_size=n)
    maybe_int = st.lists(st.one_of(st.none(), st.integers(-50, 50)), min_size=n, max_size=n)
    words = st.lists(st.sampled_from(WORDS), min_size=n, max_size=n)
    stamps = st.lists(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                                   max_value=pd.Timestamp("2030-01-01").to_pydatetime()), min_size=n, max_size=n)
    bools = st.lists(st.booleans(), min_size=n, max_size=n)
    mixed = st.lists(st.one_of(st.integers(-9, 9), st.sampled_from(WORDS), st.floats(-5, 5), st.none()),
                     min_size=n, max_size=n)
    return {
        "float": floats_messy(n),
        "int": ints.map(lambda v: pd.Series(v, dtype="int64")),
        "Int64": maybe_int.map(lambda v: pd.Series(v, dtype="Int64")),
        "bool": bools.map(lambda v: pd.Series(v, dtype=bool)),
        "boolean_na": st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="boolean")),
        "category": words.map(lambda v: pd.Series(v, dtype="category")),
        "string": words.map(lambda v: pd.Series(v, dtype=object)),
        "high_card": st.just(pd.Series([f"id-{i:05d}-ü" for i in range(n)], dtype=object)),
        "constant": st.sampled_from([1.5, "same", True]).map(lambda v: pd.Series([v] * n)),
        "all_missing": st.sampled_from([float("nan"), None, ""]).map(lambda v: pd.Series([v] * n, dtype=object)),
        "naive_datetime": stamps.map(lambda v: pd.Series(pd.to_datetime(v))),
        "tz_datetime": st.tuples(stamps, st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"])).map(
            lambda a: pd.Series(pd.to_datetime(a[0])).dt.tz_localize(a[1], ambiguous="NaT", nonexistent="NaT")),
        "iso_z": stamps.map(lambda v: pd.Series([t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in v], dtype=object)),
        "mixed": mixed.map(lambda v: pd.Series(v, dtype=object)),
    }


@dataclass
class Case:
    frame: pd.DataFrame
    target: str
    task: str
    fmt: str

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example: enough to rebuild it
        with pd.option_context("display.max_columns", None, "display.width", 250):
            return (f"Case(task={self.task!r}, fmt={self.fmt!r}, target={self.target!r}, dtypes="
                    f"{self.frame.dtypes.astype(str).to_dict()},\nframe=\n{self.frame.head(12)!r})")


@st.composite
def messy_cases(draw) -> Case:
    """A messy frame with a target column, and the format to write it in."""
    n = draw(st.integers(6, 48))
    kinds = _column_kinds(n)
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    columns = {name: draw(kinds[draw(st.sampled_from(sorted(kinds)))]) for name in names}
    task = draw(st.sampled_from(["binary", "multiclass", "regression"]))
    if task == "regression":
        target = draw(floats_messy(n)) if draw(st.booleans()) else pd.Series(
            draw(st.lists(st.floats(-100, 100), min_size=n, max_size=n)))
    else:
        labels = draw(st.lists(st.sampled_from(LABELS), min_size=2 if task == "binary" else 3,
                               max_size=2 if task == "binary" else 5, unique=True))
        # Mostly balanced, sometimes a class with one row (a stratified split cannot hold it).
        values = [labels[i % len(labels)] for i in range(n)]
        if draw(st.booleans()):
            values = [labels[0]] + [labels[1 + i % (len(labels) - 1)] for i in range(n - 1)]
        target = pd.Series(draw(st.permutations(values)), dtype=object)
    target_name = draw(st.sampled_from(["target", "Tärget y", "label,1", "y"]).filter(lambda t: t not in columns))
    frame = pd.DataFrame({**columns, target_name: target})
    if draw(st.booleans()):  # duplicated rows, as exported tables often hold
        frame = pd.concat([frame, frame.sample(n=max(1, n // 3), random_state=0)], ignore_index=True)
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    return Case(frame, target_name, task, fmt)


def write_case(case: Case, folder: Path) -> Path:
    """Write the frame as the case's format; Parquet cannot hold mixed object columns, so those become text."""
    path = folder / f"data.{case.fmt}"
    if case.fmt == "csv":
        case.frame.to_csv(path, index=False)
    else:
        frame = case.frame.copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: None if v is None or v != v else str(v))
        frame.to_parquet(path, index=False)
    return path


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlsmith", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def last_line(stderr: str) -> str:
    """The last line of stderr that says something (not a caret line under a traceback's source)."""
    lines = [line for line in stderr.splitlines() if line.strip(" ^~\t")]
    raised = [line for line in lines if re.match(r"[\w.]+(Error|Exception|Exit|Interrupt)\b", line)]
    return (raised or lines or [""])[-1][:300]


def _outcome(result: subprocess.CompletedProcess) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    return f"{result.returncode}" + (f" {errors[0][:200]}" if errors else "")


def problems_of(result: subprocess.CompletedProcess, command: str) -> list[str]:
    """What is wrong with one command's outcome (empty when it exited 0, or 2 with one Error: line)."""
    found = []
    if TRACEBACK in result.stderr:
        found.append(f"{command}: traceback: {last_line(result.stderr)}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    if result.returncode not in (0, 2):
        found.append(f"{command}: exit {result.returncode}: {last_line(result.stderr)}")
    elif result.returncode == 2 and len(errors) != 1:
        found.append(f"{command}: exit 2 with {len(errors)} 'Error:' lines: {result.stderr.strip()[:300]}")
    return found


def leftovers(folder: Path) -> list[str]:
    """Half-written output under ``folder``: staging folders, ``.tmp`` files, run folders without results."""
    found = [f"left behind: {p.relative_to(folder)}" for p in folder.rglob("*")
             if p.name.endswith(".tmp") or (p.is_dir() and p.name.startswith(".") and p.parent.name == "runs")]
    runs = folder / "runs"
    if runs.is_dir():
        for run in runs.iterdir():
            if run.is_dir() and not run.name.startswith(".") and not (
                    (run / "results.json").is_file() and (run / "model" / "pipeline.skops").is_file()):
                found.append(f"incomplete run folder: {run.name}")
    return found


def check_case(case: Case, folder: Path, outcomes: dict[str, str] | None = None) -> list[str]:
    """Drive run, quality, eda and predict on the case; return every problem found (empty: all good).

    ``outcomes``, when given, receives each command's exit code and its ``Error:`` line (for the
    local exploration's tally of what the frames exercised).
    """
    outcomes = {} if outcomes is None else outcomes
    data = write_case(case, folder)
    spec = {"target": case.target, "data": {"path": data.name}, **SPEC}
    (folder / "problem.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    found: list[str] = []
    run = cli(["run", "problem.yaml", "--runs-dir", "runs"], folder)
    found += problems_of(run, "run")
    outcomes["run"] = _outcome(run)
    for command in ("quality", "eda"):
        result = cli([command, data.name, "--target", case.target, "--json", f"{command}.json"], folder)
        found += problems_of(result, command)
        outcomes[command] = _outcome(result)
        if result.returncode == 0 and not (folder / f"{command}.json").is_file():
            found.append(f"{command}: exit 0 but no {command}.json")
    if run.returncode == 0:
        bundles = sorted((folder / "runs").glob("*/model"))
        if len(bundles) != 1:
            found.append(f"run: exit 0 but {len(bundles)} bundles in runs/")
        else:
            out = f"scores.{case.fmt}"
            pred = cli(["predict", str(bundles[0]), data.name, "-o", out], folder)
            found += problems_of(pred, "predict")
            outcomes["predict"] = _outcome(pred)
            if pred.returncode == 0:
                scored = pd.read_csv(folder / out) if case.fmt == "csv" else pd.read_parquet(folder / out)
                if len(scored) != len(case.frame):
                    found.append(f"predict: {len(scored)} rows out for {len(case.frame)} in")
    return found + leftovers(folder)


def _known_cases() -> list[Case]:
    """The crash classes of issue 18, always run (Hypothesis's explicit phase) before the generated frames."""
    n = 24
    api_export = pd.DataFrame({  # an API export: ISO timestamps in UTC, inf, an empty category, Int64 with gaps
        "when": [f"2013-01-{i + 1:02d}T10:00:00Z" for i in range(n)],
        "amount": [np.inf if i % 7 == 0 else float(i) for i in range(n)],
        "kind": pd.Series(["a b", "", "ü"] * (n // 3), dtype="category"),
        "count": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
        "label": ["yes", "no"] * (n // 2),
    })
    quoted = pd.DataFrame({"x": range(n), "y": ["it's", 'say "hi"'] * (n // 2)})
    no_target = pd.DataFrame({"x": range(n), "y": [np.nan] * n})
    header_only = pd.DataFrame({"x": pd.Series([], dtype=float), "y": pd.Series([], dtype=object)})
    return [Case(api_export, "label", "binary", "csv"), Case(quoted, "y", "binary", "csv"),
            Case(no_target, "y", "regression", "csv"), Case(header_only, "y", "binary", "csv")]


_settings = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    derandomize=SEED is None,
    database=None,
    # Each example is four CLI processes: report the first failing frame as drawn, without shrinking.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


def _with_known_cases(test):
    for case in reversed(_known_cases()):
        test = example(case=case)(test)
    return test


@_settings
@_with_known_cases
@given(case=messy_cases())
def test_messy_frames_exit_cleanly(case: Case, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("messy")
    assert check_case(case, folder) == []


if SEED is not None:
    test_messy_frames_exit_cleanly = seed(int(SEED))(test_messy_frames_exit_cleanly)


def test_leftovers_sees_a_staging_folder_and_an_incomplete_run(tmp_path: Path) -> None:
    """The half-written-output check itself finds what it is meant to find."""
    (tmp_path / "runs" / ".20260101-000000-x-abc").mkdir(parents=True)
    (tmp_path / "runs" / "20260101-000000-x").mkdir()
    (tmp_path / "scores.csv.tmp").write_text("")
    assert sorted(leftovers(tmp_path)) == [
        "incomplete run folder: 20260101-000000-x",
        "left behind: runs/.20260101-000000-x-abc",
        "left behind: scores.csv.tmp",
    ]


def test_problems_of_wants_one_error_line_and_no_traceback() -> None:
    ok = subprocess.CompletedProcess([], 2, "", "Error: data file 'x.csv' does not exist; check the path.\n")
    two = subprocess.CompletedProcess([], 2, "", "Error: one\nError: two\n")
    crash = subprocess.CompletedProcess([], 1, "", f"{TRACEBACK}:\n  File 'x'\nValueError: boom\n")
    assert problems_of(ok, "run") == []
    assert problems_of(two, "run") == ["run: exit 2 with 2 'Error:' lines: Error: one\nError: two"]
    assert problems_of(crash, "run") == ["run: traceback: ValueError: boom", "run: exit 1: ValueError: boom"]
