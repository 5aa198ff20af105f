"""The spec's seed reaches every random step: one path from problem.yaml to each estimator, encoder,
splitter and search (issue 20: the seed was threaded by hand, with disagreeing defaults)."""

import ast
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

import mlsmith
from mlsmith import CVSetup, _bootstrap, _table, workflow
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle
from mlsmith.guards import _run as guards_run
from mlsmith.target import code_model

from conftest import write_problem


def test_seed_7_reaches_every_random_step_of_the_run(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    n = 400
    city = rng.choice([f"city {i}" for i in range(60)], n)  # > 20 levels: target-encoded, cross-fitted
    words = np.array(["late", "early", "broken", "fine", "refund", "happy", "slow", "fast"])
    note = [" ".join(rng.choice(words, 4)) for _ in range(n)]  # free text: TF-IDF then truncated SVD
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "city": city, "note": note,
                          "y": np.where(x + rng.normal(size=n) > 0, "yes", "no")})
    spec = write_problem(tmp_path, frame, target="y", positive_class="yes", models=["random_forest"], seed=7,
                         split={"cv_folds": 3}, tuning={"method": "random", "n_trials": 2, "learning_curve": False},
                         data={"roles": {"note": "text"}})
    setups = []

    class Recorded(CVSetup):  # every cross-validated stage's settings, as built or derived (replace, on_rows)
        def __init__(self, **settings):
            super().__init__(**settings)
            setups.append(self)

    monkeypatch.setattr(workflow, "CVSetup", Recorded)
    drawn = []  # (module, seed) of every numpy generator the library makes: guards, bootstrap, EDA, split...
    default_rng = np.random.default_rng

    def recorded_rng(seed=None):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("mlsmith"):
            drawn.append((caller, seed))
        return default_rng(seed)

    monkeypatch.setattr(np.random, "default_rng", recorded_rng)
    given: dict[str, list[int]] = {}  # the seed each random step's entry point was given

    def recorded(where: str, func, seed_of):
        def call(*args, **kwargs):
            given.setdefault(where, []).append(seed_of(args, kwargs))
            return func(*args, **kwargs)
        return call

    # Every guard that draws (samples, folds, models) as check_data calls it (n_jobs=1: in this process).
    for name in ("check_target_leakage", "check_text_leakage", "check_id_order", "check_contamination",
                 "check_adversarial", "check_date_trend"):
        monkeypatch.setattr(guards_run, name, recorded(name, getattr(guards_run, name), lambda a, k: k["seed"]))
    # Every bootstrap draw (the evaluation's intervals, the reference's standard error, monitoring's).
    monkeypatch.setattr(_bootstrap, "on_resamples", recorded("bootstrap", _bootstrap.on_resamples, lambda a, k: a[3]))
    monkeypatch.setattr(_table.Table, "sample", recorded("eda sample", _table.Table.sample, lambda a, k: k["seed"]))
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    modules = {m.rsplit(".", 1)[0] if m.startswith("mlsmith.guards") else m for m, _ in drawn}
    assert {"mlsmith.guards", "mlsmith._bootstrap"} <= modules, modules
    assert {seed for _, seed in drawn} == {7}, drawn

    # The comparison, the ablation, tuning and the evaluation's out-of-fold fits: seed 7, folds seeded 7.
    assert len(setups) >= 2 and {s.seed for s in setups} == {7}
    assert {s.cv.random_state for s in setups} == {7}

    pipeline = code_model(ModelBundle.load(result.run_dir / "model").pipeline)[0]
    params = pipeline.get_params(deep=True)
    # scikit-learn >= 1.9 spells the target encoder's seed as its cv splitter's ('random_state' deprecated)
    seeds = {k: v for k, v in params.items() if k.endswith("random_state") and v != "deprecated"}
    seeds |= {f"{k}.random_state": v.random_state for k, v in params.items() if k.endswith("__cv")
              and getattr(v, "shuffle", False)}
    assert any(k.startswith("model__") for k in seeds) and any("target_enc" in k for k in seeds)
    assert any(k.startswith("prep__text_") for k in seeds)
    assert set(seeds.values()) == {7}, seeds
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert saved["problem"]["seed"] == 7 and saved["tuning"]["seed"] == 7
    assert ModelBundle.load(result.run_dir / "model").metadata["seed"] == 7

    # Monitoring's bootstrap of the current metric draws with the seed the bundle's reference records: the spec's.
    assert json.loads((result.run_dir / "model" / "reference.json").read_text())["seed"] == 7
    mlsmith.monitor.monitor(result.run_dir / "model", frame, labels="y")
    assert set(given) == {"check_target_leakage", "check_text_leakage", "check_id_order", "check_contamination",
                          "check_adversarial", "check_date_trend", "bootstrap", "eda sample"}
    assert {seed for seeds in given.values() for seed in seeds} == {7}, given


def test_the_cv_settings_have_no_seed_default_and_cannot_be_changed_in_place():
    frame = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20) % 2})
    settings = dict(X=frame[["x"]], y=frame["y"].to_numpy(), schema=infer_schema(frame, "y"),
                    task="binary_classification", metric="roc_auc", cv=KFold(4, shuffle=True, random_state=7))
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'seed'"):
        CVSetup(**settings)
    setup = CVSetup(**settings, seed=7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.seed = 0
    sample = setup.on_rows(np.arange(8))
    assert (sample.seed, len(sample.X), sample.n_classes, setup.n_classes) == (7, 8, 2, 2)
    assert [test.tolist() for _, test in sample.folds()] == [test.tolist() for _, test in
                                                             KFold(4, shuffle=True, random_state=7).split(range(8))]


def test_a_table_sample_is_drawn_with_the_seed_asked_for_not_the_first_one_kept():
    # The run's quality stage sampled the shared table with seed 0 before EDA asked for the spec's seed
    # with the same size, and EDA got the seed-0 sample back from the cache.
    frame = pd.DataFrame({"x": np.arange(60_000)})
    with _table.open_table(frame) as table:
        first, second = table.sample(50_000, seed=0), table.sample(50_000, seed=7)
        assert table.sample(50_000, seed=7) is second
    assert second["x"].tolist() == frame.sample(50_000, random_state=7)["x"].tolist() != first["x"].tolist()


def test_monitoring_draws_with_the_seed_the_bundle_records():
    from types import SimpleNamespace

    from mlsmith.exceptions import BundleError
    from mlsmith.monitor._monitor import _bundle_seed

    bundle = SimpleNamespace(metadata={"seed": 5}, path="runs/x/model")
    assert _bundle_seed({"seed": 7}, bundle) == 7  # the reference's: the spec's seed
    assert _bundle_seed({}, bundle) == 5  # a reference written before it recorded one: the metadata's
    with pytest.raises(BundleError, match=r"model bundle 'runs/x/model' records no seed .*re-create it with 'mlsmith run'"):
        _bundle_seed({}, SimpleNamespace(metadata={}, path="runs/x/model"))


def test_a_text_column_with_a_short_vocabulary_is_reduced_to_as_many_components_as_terms():
    # 'note' has 8 distinct words: TF-IDF gives 8 terms, fewer than the 16 components asked for, and
    # scikit-learn's TruncatedSVD refused to fit, so every family of the run failed.
    from mlsmith.pipeline import build_preprocessor

    rng = np.random.default_rng(1)
    words = np.array(["late", "early", "broken", "fine", "refund", "happy", "slow", "fast"])
    frame = pd.DataFrame({"note": [" ".join(rng.choice(words, 3)) for _ in range(200)], "y": rng.integers(0, 2, 200)})
    prep = build_preprocessor(infer_schema(frame, "y", roles={"note": "text"}), scale=False, seed=0)
    out = prep.fit_transform(frame[["note"]], frame["y"])
    assert out.shape == (200, 8) and np.isfinite(out).all()
    assert prep.named_transformers_["text_note"].named_steps["textsvd"].components_.shape == (8, 8)


SRC = Path(__file__).resolve().parents[1] / "src" / "mlsmith"


def seed_defaults() -> set[str]:
    """``path:function`` of every function under src/mlsmith with a parameter named ``seed`` that has a default."""
    found = set()
    for path in SRC.rglob("*.py"):
        if path.parent.name == "cli":  # a command's --seed flag is a source, as the spec's seed is
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            a = node.args
            positional = a.posonlyargs + a.args
            named = [p.arg for p in positional[len(positional) - len(a.defaults):]]
            named += [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            if "seed" in named:
                found.add(f"{path.relative_to(SRC).as_posix()}:{node.name}")
    return found


def test_no_function_of_the_library_defaults_the_seed():
    # The spec's seed is the only source: a default would silently replace it wherever a hand-off is missed.
    assert sorted(seed_defaults()) == []


def test_the_seed_default_scan_sees_positional_and_keyword_only_defaults(tmp_path, monkeypatch):
    (tmp_path / "m.py").write_text("def a(x, seed=0): ...\ndef b(*, seed: int = 1): ...\ndef c(seed, *, n=2): ...\n")
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path)
    assert seed_defaults() == {"m.py:a", "m.py:b"}


SEED_KEYWORDS = {"seed", "random_state", "random_seed"}


def literal_seeds() -> set[str]:
    """``path:line`` of every call under src/mlsmith that fixes a seed with a literal number.

    ``f(random_state=0)``, ``default_rng(0)``: a literal bypasses the spec's seed as surely as a default does
    (``data.py``'s role inference and the feature plan's ratio screen drew with ``random_state=0``).
    """
    found = set()
    for path in SRC.rglob("*.py"):
        if path.parent.name == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            values = [k.value for k in node.keywords if k.arg in SEED_KEYWORDS]
            if name in {"default_rng", "RandomState", "seed"}:
                values += node.args[:1]
            if any(isinstance(v, ast.Constant) and isinstance(v.value, int) for v in values):
                found.add(f"{path.relative_to(SRC).as_posix()}:{node.lineno}")
    return found


def test_no_call_of_the_library_fixes_a_seed_with_a_literal():
    assert sorted(literal_seeds()) == []


def test_the_literal_seed_scan_sees_keywords_and_generators(tmp_path, monkeypatch):
    (tmp_path / "m.py").write_text("a = f(random_state=0)\nb = np.random.default_rng(3)\n"
                                   "c = f(random_state=seed)\nd = g(seed=NOISE_SEED)\n")
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path)
    assert literal_seeds() == {"m.py:1", "m.py:2"}


def test_the_schema_and_the_ratio_screen_read_the_same_rows_whatever_the_order_of_runs():
    # Systematic samples: role inference's 500 values and the ratio screen's 5,000 rows are evenly spaced,
    # so they cover a time-ordered table from end to end and draw nothing.
    from mlsmith._columns import evenly_spaced
    dates = pd.Series(pd.date_range("2020-01-01", periods=100_000, freq="h").astype(str))
    picked = evenly_spaced(dates, 500)
    assert len(picked) == 500 and picked.iloc[0] == dates.iloc[0] and picked.iloc[-1] == dates.iloc[-1]
    frame = pd.DataFrame({"when": dates, "n": np.arange(100_000)})
    assert infer_schema(frame, "n")["when"].role == "datetime"
