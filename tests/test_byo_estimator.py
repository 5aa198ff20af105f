"""Bring your own estimator: a ``models:`` entry names a scikit-learn estimator class by import path.

The user's family goes through the comparison, tuning, evaluation and bundle like a built-in one;
the spec runs no code but the import of the class it names, checked before any data is read; a
bundle of a class mlsmith does not trust is refused at load until the user names its type.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import ExtraTreesClassifier

import mlsmith
from mlsmith.catalog import families, user_family
from mlsmith.cli import main
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle
from mlsmith.exceptions import BundleError, ProblemSpecError
from mlsmith.pipeline import build_pipeline
from mlsmith.problem import ModelSpec, load_problem, parse_problem
from mlsmith.recommender import recommend
from mlsmith.target import code_model

from conftest import write_problem

EXTRA_TREES = {"name": "extra_trees", "estimator": "sklearn.ensemble.ExtraTreesClassifier",
               "params": {"n_estimators": 40},
               "space": {"max_depth": {"int": [2, 12]}, "min_samples_leaf": [1, 3, 5]}}
XGB_FOREST = {"name": "xgb_forest",
              "estimator": {"classification": "xgboost.XGBRFClassifier", "regression": "xgboost.XGBRFRegressor"},
              "params": {"n_estimators": 30, "max_depth": 4}, "traits": {"needs_scaling": False}}


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


@pytest.fixture(scope="module")
def extra_trees_run(tmp_path_factory, cancer):
    folder = tmp_path_factory.mktemp("extra_trees")
    spec = write_problem(folder, cancer, target="target", models=[EXTRA_TREES], split={"cv_folds": 3},
                         features="none", tuning={"method": "random", "n_trials": 3, "learning_curve": False})
    return mlsmith.run(spec, runs_dir=folder / "runs", n_jobs=1)


@pytest.mark.slow
def test_an_estimator_given_by_import_path_is_compared_tuned_and_bundled(extra_trees_run, cancer):
    r = extra_trees_run
    row = next(row for row in r.leaderboard.rows if row.model == "extra_trees")
    assert (row.label, row.status) == ("ExtraTreesClassifier", "ok") and row.cv_mean > 0.95
    assert r.leaderboard.best.model == "extra_trees"
    advice = next(a for a in r.leaderboard.recommendation.advice if a.model == "extra_trees")
    assert advice.reason == "your own estimator, sklearn.ensemble.ExtraTreesClassifier"
    assert advice.traits["handles_missing"] == "yes"  # scikit-learn's allow_nan tag for the forest

    # tuned within the entry's own space
    assert r.tuning.model == "extra_trees" and r.tuning.trials_done == 3
    assert r.tuning.space == {"max_depth": "int in [2, 12]", "min_samples_leaf": "one of [1, 3, 5]"}
    for trial in r.tuning.trials:
        assert 2 <= trial["params"]["max_depth"] <= 12 and trial["params"]["min_samples_leaf"] in (1, 3, 5)

    # the bundle: scikit-learn's own classes load without --trust (skops trusts them as mlsmith's do)
    saved = json.loads((r.run_dir / "results.json").read_text())
    assert "trust" not in saved["bundle"]
    bundle = ModelBundle.load(r.bundle["path"])
    model = code_model(bundle.pipeline)[0].named_steps["model"]
    assert isinstance(model, ExtraTreesClassifier)
    assert (model.n_estimators, model.random_state, model.n_jobs) == (40, 42, 1)  # the spec's, the seed, one thread
    scored = bundle.predict(cancer.drop(columns="target"))
    assert (scored["prediction"] == cancer["target"]).mean() > 0.95
    assert np.array_equal(scored["prediction"], (scored["probability"] >= bundle.threshold).astype(int))

    # the run's problem.yaml holds the entry as written, and reads back
    again = load_problem(r.run_dir / "problem.yaml")
    assert again.models[0].estimator == "sklearn.ensemble.ExtraTreesClassifier"
    assert again.models[0].space == EXTRA_TREES["space"]


@pytest.mark.slow
def test_a_class_mlsmith_does_not_trust_is_refused_at_load_until_named(tmp_path, capsys):
    diabetes = load_diabetes(as_frame=True).frame
    spec = write_problem(tmp_path, diabetes, target="target", models=[XGB_FOREST], success_metric="rmse",
                         split={"cv_folds": 3}, features="none", tuning={"method": "none", "learning_curve": False})
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    rows = {row.model: row for row in r.leaderboard.rows}
    # one entry, both task kinds: the regressor is picked for a regression target
    assert rows["xgb_forest"].label == "XGBRFClassifier / XGBRFRegressor" and rows["xgb_forest"].status == "ok"
    assert rows["xgb_forest"].cv_mean < rows["dummy"].cv_mean  # rmse: lower is better
    assert r.leaderboard.best.model == "xgb_forest"
    type_name = "xgboost.sklearn.XGBRFRegressor"  # where the class is defined, not the path given
    assert r.bundle["trust"] == [type_name]
    assert f"--trust {type_name}" in (r.run_dir / "report.html").read_text()

    path = r.bundle["path"]
    with pytest.raises(BundleError, match=rf"holds type '{type_name}', which mlsmith's pipelines are not made of; "
                                          rf".* trust it explicitly: --trust {type_name}\.$"):
        ModelBundle.load(path)
    trusted = ModelBundle.load(path, trusted=[type_name]).predict(diabetes.drop(columns="target"))
    assert np.sqrt(np.mean((trusted["prediction"] - diabetes["target"]) ** 2)) < 60

    diabetes.drop(columns="target").to_csv(tmp_path / "new.csv", index=False)
    args = ["predict", path, str(tmp_path / "new.csv"), "-o", str(tmp_path / "scored.csv")]
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("Error: ") and err.count("\n") == 1
    assert err.rstrip().endswith(f"--trust {type_name}.")
    main([*args, "--trust", type_name])
    assert np.allclose(pd.read_csv(tmp_path / "scored.csv")["prediction"], trusted["prediction"])


def _spec_with(tmp_path: Path, entry) -> Path:
    """A problem.yaml whose data file does not exist: an error about the entry comes before any read."""
    path = tmp_path / "problem.yaml"
    path.write_text(yaml.safe_dump({"target": "target", "data": {"path": "missing.csv"}, "models": [entry]}))
    return path


@pytest.mark.parametrize("estimator, message", [
    ("os.system", r"estimator 'os.system' is a builtin_function_or_method, not a class; name a scikit-learn "
                  r"estimator class, e.g. 'estimator: sklearn.ensemble.ExtraTreesClassifier'\."),
    ("sklearn.ensemble.NoSuchThing", r"estimator 'sklearn.ensemble.NoSuchThing': module 'sklearn.ensemble' has "
                                     r"no 'NoSuchThing' \(e.g. 'estimator: sklearn.ensemble.ExtraTreesClassifier'\)\."),
    ("sklearn.ensemble.ExtraTreesClassifier()", r"estimator must be an import path 'module.Class' \(identifiers "
                                                r"joined by dots; no calls, .*got 'sklearn.ensemble.ExtraTreesClassifier\(\)'"),
    ("collections.OrderedDict", r"estimator 'collections.OrderedDict' is a class but not a scikit-learn estimator "
                                r"\(no fit, predict, get_params, set_params\)"),
    ("sklearn.ensemble.ExtraTreeClassifier", r".*; did you mean 'sklearn.ensemble.ExtraTreesClassifier'\?"),
    ("no_such_package.Model", r".*: 'no_such_package' is not an installed package; mlsmith imports estimator "
                              r"classes only from installed packages"),
    ("os.__builtins__.eval", r"estimator must be an import path .*dunder names"),
    ("sklearn.cluster.KMeans", r"sklearn.cluster.KMeans is neither a classifier nor a regressor by scikit-learn's tags "
                               r"\(estimator_type 'clusterer'\)"),
    ("sklearn.svm.LinearSVC", r"LinearSVC has no predict_proba; .* name a classifier that has predict_proba"),
])
def test_a_wrong_import_path_is_one_error_line_before_any_data_is_read(tmp_path, capsys, estimator, message):
    spec = _spec_with(tmp_path, {"name": "mine", "estimator": estimator})
    with pytest.raises(ProblemSpecError, match=r"^problem.yaml: 'models': entry 'mine': " + message):
        load_problem(spec)
    with pytest.raises(SystemExit) as stop:
        main(["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("Error: problem.yaml: 'models': entry 'mine': ")
    assert err.count("\n") == 1 and "Traceback" not in err and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("change, message", [
    ({"params": {"n_estimator": 10}}, r"entry 'mine': params 'n_estimator' is not a parameter of "
                                      r"ExtraTreesClassifier; did you mean 'n_estimators'\?"),
    ({"params": {"n_estimators": {"eval": "1"}}}, r"entry 'mine': params.n_estimators must be a number, text, "
                                                  r"true/false, null or a list of those; got \{'eval': '1'\}"),
    ({"space": {"max_dept": [2, 4]}}, r"entry 'mine': space 'max_dept' is not a parameter of ExtraTreesClassifier; "
                                      r"did you mean 'max_depth'\?"),
    ({"space": {"max_depth": {"int": [12, 2]}}}, r"models.mine.space.max_depth must be a list of choices or a range"),
    ({"estimater": "x"}, r"entry 'mine': unknown key 'estimater'; did you mean 'estimator'\?"),
    ({"name": "random_forest"}, r"entry 'random_forest' has the name of a built-in family; give your own family "
                                r"another name, e.g. 'name: my_random_forest'"),
    ({"traits": {"interpretability": "great"}}, r"entry 'mine': 'traits.interpretability' input should be"),
    ({"estimator": {"classification": "sklearn.ensemble.ExtraTreesRegressor"}},
     r"entry 'mine': sklearn.ensemble.ExtraTreesRegressor is a regressor, given for classification; give it "
     r"for regression \('estimator: \{regression: sklearn.ensemble.ExtraTreesRegressor\}'\)"),
])
def test_params_space_and_traits_are_checked_with_the_spec(tmp_path, change, message):
    entry = {"name": "mine", "estimator": {"classification": "sklearn.ensemble.ExtraTreesClassifier"}, **change}
    with pytest.raises(ProblemSpecError, match=message):
        load_problem(_spec_with(tmp_path, entry))


def test_names_the_catalog_does_not_know_are_refused_with_the_way_to_add_one():
    base = {"target": "y", "data": {"path": "d.csv"}}
    with pytest.raises(ProblemSpecError, match=r"'models': unknown family 'catboost'; choose from linear, .*, or add "
                                               r"your own with \{name: catboost, estimator: module.Class\}"):
        parse_problem({**base, "models": ["catboost"]})
    with pytest.raises(ProblemSpecError, match=r"'models': entry 'mine' \(sklearn.ensemble.ExtraTreesClassifier\) "
                                               r"does not apply to regression; give 'estimator: \{regression: "):
        parse_problem({**base, "type": "regression", "models": [{"name": "mine", "estimator": EXTRA_TREES["estimator"]}]})
    # tuning.spaces may name the user's family, and only families that exist
    p = parse_problem({**base, "models": [EXTRA_TREES], "tuning": {"spaces": {"extra_trees": {"max_depth": [3, 5]}}}})
    assert p.tuning.spaces == {"extra_trees": {"max_depth": [3, 5]}}
    with pytest.raises(ProblemSpecError, match=r"'spaces' names unknown family 'extra_tree'; choose from .*, extra_trees"):
        parse_problem({**base, "models": [EXTRA_TREES], "tuning": {"spaces": {"extra_tree": {"max_depth": [3]}}}})


def test_the_task_picks_the_class_and_the_seed_reaches_it(cancer):
    schema = infer_schema(cancer, "target")
    forest = user_family(ModelSpec(**XGB_FOREST))
    assert forest.tasks == ("classification", "regression") and forest.needs_scaling is False
    clf = build_pipeline(forest, schema, "binary_classification", 7).named_steps["model"]
    reg = build_pipeline(forest, schema, "regression", 7).named_steps["model"]
    assert (type(clf).__name__, type(reg).__name__) == ("XGBRFClassifier", "XGBRFRegressor")
    assert (clf.random_state, clf.n_jobs, clf.n_estimators, clf.max_depth) == (7, 1, 30, 4)
    # a seed the user gives wins; the pipeline scales by default (harmless for trees, needed by others)
    own = user_family(ModelSpec(**{**EXTRA_TREES, "params": {"random_state": 3}}))
    pipe = build_pipeline(own, schema, "binary_classification", 7)
    assert pipe.named_steps["model"].random_state == 3
    assert any("standardscaler" in str(step).lower() for step in pipe.named_steps["prep"].transformers)


def test_traits_decide_the_shortlist_and_default_from_the_estimators_tags(cancer):
    schema = infer_schema(cancer, "target")
    knn = {"name": "my_knn", "estimator": "sklearn.neighbors.KNeighborsClassifier"}
    readable = {"name": "my_tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
                "traits": {"interpretability": "high"}}
    catalog = families([ModelSpec(**knn), ModelSpec(**readable)])
    assert catalog["my_knn"].handles_missing == "no" and catalog["my_tree"].handles_missing == "yes"
    models = [ModelSpec(**knn), ModelSpec(**readable), "linear"]
    rec = recommend(schema, len(cancer), "binary_classification", interpretability="high", models=models)
    assert rec.order == ["linear", "my_tree", "dummy"]  # the user's own before the dummy
    assert rec.skipped["my_knn"] == ("interpretability: high asks for a model a person can read; "
                                     "KNeighborsClassifier is rated low")


def test_a_module_beside_the_spec_is_never_imported_even_on_the_path(tmp_path, monkeypatch, capsys):
    # 'python -m mlsmith' puts the current folder first on sys.path: a model.py shipped with a spec
    # would run on import. Only installed packages (and the standard library) are imported.
    (tmp_path / "evil_model.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('ran').write_text('yes')\n"
        "class Model:\n    def fit(self, X, y): return self\n    def predict(self, X): return X\n"
        "    def get_params(self, deep=True): return {}\n    def set_params(self, **p): return self\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    spec = _spec_with(tmp_path, {"name": "mine", "estimator": "evil_model.Model"})
    with pytest.raises(SystemExit) as stop:
        main(["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "'evil_model' is not an installed package" in err and err.count("\n") == 1
    assert not (tmp_path / "ran").exists() and "evil_model" not in sys.modules
