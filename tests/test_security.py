"""The attacks of SECURITY.md's threat model, each built as an attacker would, and refused or made harmless."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from mlsmith.catalog import CATALOG
from mlsmith.cli import main
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle, save_bundle
from mlsmith.deploy._bundle import KEY_ENV, TRUSTED_TYPES, pipeline_bytes
from mlsmith.exceptions import BundleError
from mlsmith.features import FeaturePlan
from mlsmith.pipeline import build_pipeline
from mlsmith.problem import FeatureSpec
from mlsmith.target import whole_model

sys.path.insert(0, str(Path(__file__).parent))
from deploy_fixtures import make_bundle  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cars() -> pd.DataFrame:
    """Cars93 (R's MASS) with two date columns added, so that every column role and feature kind has a column."""
    frame = pd.read_csv(DATA / "cars93.csv").drop(columns=["Unnamed: 0", "Model"])
    frame["released"] = pd.Timestamp("1993-01-01") + pd.to_timedelta(frame["Horsepower"] * 3, unit="D")
    frame["reviewed"] = frame["released"] + pd.to_timedelta(frame["RPM"] // 50, unit="D")
    frame.loc[::9, "Luggage.room"] = np.nan
    return frame


def _every_pipeline(frame: pd.DataFrame):
    """Fitted pipelines of every family and task, and of every feature kind (scaled and not)."""
    schema = infer_schema(frame.drop(columns=["Price"]).assign(y=0), "y", roles={"Make": "text"})
    X = frame[schema.features()]
    targets = {"regression": frame["Price"].to_numpy(), "binary_classification": (frame["Origin"] == "USA").to_numpy(dtype=int),
               "multiclass_classification": pd.factorize(frame["DriveTrain"], sort=True)[0]}
    plan = FeaturePlan([
        FeatureSpec(kind="dates", columns=["released"]), FeatureSpec(kind="elapsed", columns=["released", "reviewed"]),
        FeatureSpec(kind="log", columns=["Weight"]), FeatureSpec(kind="bin", columns=["RPM"]),
        FeatureSpec(kind="polynomial", columns=["EngineSize"]),
        FeatureSpec(kind="interaction", columns=["Length", "Width"]),
        FeatureSpec(kind="ratio", columns=["Horsepower", "Weight"]),
        FeatureSpec(kind="target_encoding", columns=["Manufacturer"]),
        FeatureSpec(kind="aggregate", columns=["Horsepower"], by="Type"),
    ], "declared")
    rng = np.random.default_rng(0)
    for family, spec in CATALOG.items():
        for task, y in targets.items():
            if not spec.supports(task):
                continue
            for feature_plan in ([None, plan] if family in ("linear", "decision_tree") else [None]):
                pipe = build_pipeline(family, schema, task, 0, feature_plan)
                # one draw from the search space: tuned parameters arrive as numpy scalars
                drawn = {f"model__{k}": (v.rvs(random_state=rng) if hasattr(v, "rvs") else v[0])
                         for k, v in spec.space(task).items()}
                if family == "svm" and task != "regression":
                    drawn = {f"model__estimator__{k[7:]}": v for k, v in drawn.items()}
                # few trees: the types a model holds do not depend on how many
                model = pipe.named_steps["model"].get_params()
                drawn.update({f"model__{k}": 3 for k in ("n_estimators", "max_iter") if k in model
                              and family not in ("linear", "svm")})
                yield family, task, pipe.set_params(**drawn).fit(X, y)


def test_the_trusted_list_covers_every_pipeline_mlsmith_builds(cars):
    needed = set()
    classes = {"binary_classification": ["domestic", "USA"], "multiclass_classification": ["4WD", "Front", "Rear"]}
    for _, task, pipe in _every_pipeline(cars):
        # as a bundle holds it: the whole model, answering in the classes with its threshold
        needed |= set(sio.get_untrusted_types(data=pipeline_bytes(whole_model(pipe, task, classes.get(task), 0.4))))
    assert needed - TRUSTED_TYPES == set()
    assert not any(t.endswith(".") for t in TRUSTED_TYPES)  # names, never prefixes


def _runstring_bundle(folder: Path, schema_frame: pd.DataFrame, flag: Path) -> Path:
    """The crafted bundle of the issue: FunctionTransformers over numpy functions that end in ``exec``."""
    from numpy.testing._private.utils import runstring

    code = f"open({str(flag)!r}, 'w').write('pwned')"
    X = schema_frame.drop(columns=["churned"])
    steps = [FunctionTransformer(np.full_like, kw_args={"fill_value": code, "dtype": "O"}),
             FunctionTransformer(np.take, kw_args={"indices": 0}),
             FunctionTransformer(runstring, kw_args={"dict": {}})]
    for step in steps:
        step.fit(X)
    pipe = make_pipeline(*steps, DummyClassifier())
    pipe.steps[-1] = ("dummyclassifier", DummyClassifier().fit(np.zeros((2, 1)), [0, 1]))
    schema = infer_schema(schema_frame, "churned", ["customer_id"])
    metadata = {"task": "binary_classification", "classes": [0, 1], "decision_threshold": 0.5}
    return save_bundle(folder, pipe, schema, metadata)


def test_a_bundle_whose_pipeline_runs_code_is_refused_before_anything_runs(churn_small, tmp_path, capsys):
    flag = tmp_path / "pwned"
    bundle = _runstring_bundle(tmp_path / "model", churn_small, flag)
    churn_small.head(5).to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(BundleError, match=r"holds type 'numpy.full_like' \(and 2 more\), which mlsmith's pipelines "
                                          r"are not made of; .* trust it explicitly: --trust numpy.full_like"):
        ModelBundle.load(bundle)
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(bundle), str(tmp_path / "rows.csv"), "-o", str(tmp_path / "out.csv")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: model bundle") and "numpy.full_like" in err and "Traceback" not in err
    assert not flag.exists() and not (tmp_path / "out.csv").exists()


def test_trust_is_explicit_and_names_each_type(churn_small, tmp_path):
    flag = tmp_path / "pwned"
    bundle = _runstring_bundle(tmp_path / "model", churn_small, flag)
    with pytest.raises(BundleError, match="holds type 'numpy.testing._private.utils.runstring'"):
        ModelBundle.load(bundle, trusted=["numpy.full_like", "numpy.take"])
    assert not flag.exists()


class Identity(FunctionTransformer):
    """A user's own step: mlsmith's list does not know it, the user trusts it by name."""


def test_trust_on_the_command_line_admits_a_users_own_type(churn_small, tmp_path, capsys):
    schema = infer_schema(churn_small, "churned", ["customer_id"])
    pipe = build_pipeline("linear", schema, "binary_classification", 0)
    pipe.steps.insert(0, ("mine", Identity()))
    pipe.fit(churn_small[schema.features()], churn_small["churned"])
    bundle = save_bundle(tmp_path / "model", pipe, schema,
                         {"task": "binary_classification", "classes": [0, 1], "decision_threshold": 0.5})
    churn_small.head(30).to_csv(tmp_path / "rows.csv", index=False)
    args = ["predict", str(bundle), str(tmp_path / "rows.csv"), "-o", str(tmp_path / "out.csv")]
    with pytest.raises(SystemExit):
        main(args)
    assert "holds type 'test_security.Identity'" in capsys.readouterr().err
    main([*args, "--trust", "test_security.Identity"])
    scored = pd.read_csv(tmp_path / "out.csv")
    expected = pipe.predict_proba(churn_small.head(30)[schema.features()])[:, 1]
    assert np.allclose(scored["probability"], expected)


@pytest.fixture()
def bundle(tmp_path, churn_small) -> Path:
    return make_bundle(tmp_path / "model", churn_small, n_train=600)


def test_an_edited_metadata_threshold_is_refused(bundle):
    meta = json.loads((bundle / "metadata.json").read_text())
    meta["decision_threshold"] = 0.01
    (bundle / "metadata.json").write_text(json.dumps(meta, indent=2))
    with pytest.raises(BundleError, match=r"was modified after it was written: the hash of 'metadata.json' does not "
                                          "match"):
        ModelBundle.load(bundle)


@pytest.mark.parametrize("name", ["metadata.json", "pipeline.skops", "MODEL_CARD.md"])
def test_a_deleted_manifest_entry_is_refused(bundle, name):
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["files"][name]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    message = "does not list" if name in ("metadata.json", "pipeline.skops") else f"holds '{name}', which its manifest"
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(bundle)


def test_an_added_file_is_refused(bundle):
    (bundle / "extra.py").write_text("print('hi')")
    with pytest.raises(BundleError, match="holds 'extra.py', which its manifest does not list"):
        ModelBundle.load(bundle)


def test_a_signed_bundle_loads_only_with_its_key(tmp_path, churn_small, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "fleet-secret")
    signed = make_bundle(tmp_path / "signed", churn_small, n_train=600)
    assert (signed / "manifest.sig").is_file()
    assert ModelBundle.load(signed).version
    monkeypatch.setenv(KEY_ENV, "another key")
    with pytest.raises(BundleError, match="signature that does not match its manifest"):
        ModelBundle.load(signed)
    monkeypatch.delenv(KEY_ENV)
    unsigned = make_bundle(tmp_path / "unsigned", churn_small, n_train=600)
    assert not (unsigned / "manifest.sig").exists()
    monkeypatch.setenv(KEY_ENV, "fleet-secret")
    with pytest.raises(BundleError, match=f"is not signed, and {KEY_ENV} is set"):
        ModelBundle.load(unsigned)
    # the manifest re-hashed by someone without the key: the signature catches it
    meta = json.loads((signed / "metadata.json").read_text())
    (signed / "metadata.json").write_text(json.dumps({**meta, "decision_threshold": 0.01}))
    manifest = json.loads((signed / "manifest.json").read_text())
    import hashlib

    manifest["files"]["metadata.json"] = hashlib.sha256((signed / "metadata.json").read_bytes()).hexdigest()
    (signed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="signature that does not match"):
        ModelBundle.load(signed)


def _rehash(bundle: Path) -> None:
    """Rewrite the manifest to match the files, as someone who corrupts a bundle on purpose would."""
    import hashlib

    manifest = {"algorithm": "sha256", "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                                                 for p in sorted(bundle.iterdir()) if p.name != "manifest.json"}}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name, content, message", [
    ("metadata.json", "{not json", "metadata.json is not valid JSON"),
    ("schema.json", "\xff\xfe", "schema.json is not valid JSON"),
    ("schema.json", "[]", "schema.json is not an mlsmith schema"),
    ("pipeline.skops", "not a zip file", "pipeline.skops is not a skops file"),
])
@pytest.mark.parametrize("command", ["predict", "serve", "monitor"])
def test_a_corrupt_bundle_file_is_one_error_line(bundle, tmp_path, churn_small, capsys, name, content, message,
                                                  command):
    (bundle / name).write_bytes(content.encode("latin-1"))
    _rehash(bundle)
    churn_small.head(20).to_csv(tmp_path / "rows.csv", index=False)
    args = {"predict": ["predict", str(bundle), str(tmp_path / "rows.csv"), "-o", str(tmp_path / "o.csv")],
            "serve": ["serve", str(bundle), "--port", "1", "--workers", "1"],
            "monitor": ["monitor", str(bundle), str(tmp_path / "rows.csv")]}[command]
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"Error: model bundle '{bundle}': {message}")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_the_same_fitted_pipeline_saves_to_the_same_bytes(tmp_path, churn_small):
    schema = infer_schema(churn_small, "churned", ["customer_id"])
    X = churn_small[schema.features()]
    pipe = build_pipeline("random_forest", schema, "binary_classification", 0).fit(X, churn_small["churned"])
    metadata = {"task": "binary_classification", "classes": [0, 1], "decision_threshold": 0.5}
    first = save_bundle(tmp_path / "a", pipe, schema, metadata)
    second = save_bundle(tmp_path / "b", pipe, schema, metadata)
    files = sorted(p.name for p in first.iterdir())
    assert files == sorted(p.name for p in second.iterdir())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert ModelBundle.load(first).version == ModelBundle.load(second).version
    loaded = ModelBundle.load(first).pipeline
    assert np.array_equal(loaded.predict_proba(X.head(50)), pipe.predict_proba(X.head(50)))


def test_identical_models_give_identical_onnx_bytes(tmp_path, churn_small):
    a = make_bundle(tmp_path / "a", churn_small, n_train=600)
    b = make_bundle(tmp_path / "b", churn_small, n_train=600)
    assert (a / "model.onnx").read_bytes() == (b / "model.onnx").read_bytes()
    assert (a / "pipeline.skops").read_bytes() == (b / "pipeline.skops").read_bytes()


# --- the spec is data, not code -------------------------------------------------------------------

def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "problem.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("rule, message", [
    ("@pd.io.common.os.system('touch {flag}')", r"it is not an expression of the rule language"),
    ("__import__('os').system('touch {flag}')", r"calling '__import__\('os'\).system' is not allowed"),
    ("tenure_months.__class__", r"attribute access \('.'\) is not allowed"),
    ("tenure_months[0] > 1", r"subscripts \('\[...\]'\) is not allowed"),
    ("(lambda: 1)()", r"calling 'lambda: 1' is not allowed"),
    ("tenure_months @ tenure_months", r"the operator MatMult is not allowed"),
])
def test_a_baseline_rule_that_is_code_fails_validation_and_runs_nothing(tmp_path, rule, message):
    from mlsmith.exceptions import ProblemSpecError
    from mlsmith.problem import load_problem

    flag = tmp_path / "ran"
    spec = _spec(tmp_path, f"target: churned\ndata: {{path: d.csv}}\nbaseline:\n  rule: \"{rule.format(flag=flag)}\"\n")
    with pytest.raises(ProblemSpecError, match=r"problem.yaml: 'baseline.rule': the rule .* is refused: " + message):
        load_problem(spec)
    assert not flag.exists()


def test_the_at_rule_of_the_issue_stops_the_run_with_exit_2(tmp_path, churn_small, capsys):
    from conftest import write_problem

    spec = write_problem(tmp_path, churn_small.head(200), target="churned",
                         baseline={"rule": "@pd.io.common.os.system('touch " + str(tmp_path / "ran") + "')"})
    with pytest.raises(SystemExit) as stop:
        main(["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: problem.yaml: 'baseline.rule': the rule \"@pd.io.common.os.system(")
    assert not (tmp_path / "ran").exists() and not (tmp_path / "runs").exists()


def test_the_shipped_rules_compute_what_pandas_computed():
    import yaml

    from mlsmith._rule import evaluate_rule

    frames = {"breast_cancer": pd.DataFrame({"worst radius": [10.0, 16.8, 20.0, np.nan]}),
              "churn": pd.DataFrame({"tenure_months": [1, 3, 12, np.nan]}),
              "islp_default": pd.read_csv(DATA / "Default.csv").head(200)}
    for name, frame in frames.items():
        rule = yaml.safe_load((Path(__file__).parents[1] / "examples" / name / "problem.yaml").read_text())["baseline"]["rule"]
        expected = frame.eval(rule, engine="python")
        assert evaluate_rule(rule, frame).tolist() == expected.tolist(), name


def test_the_rule_language_covers_comparisons_logic_arithmetic_membership_and_missing():
    from mlsmith._rule import RuleError, evaluate_rule

    hitters = pd.read_csv(DATA / "hitters.csv")
    got = evaluate_rule("(Hits / AtBat > 0.28 and League in ['N']) or isna(Salary)", hitters)
    expected = ((hitters["Hits"] / hitters["AtBat"] > 0.28) & (hitters["League"] == "N")) | hitters["Salary"].isna()
    assert got.tolist() == expected.tolist() and got.sum() == expected.sum() > 0
    assert evaluate_rule("not ((Years >= 10) & notna(Salary))", hitters).tolist() == \
        (~((hitters["Years"] >= 10) & hitters["Salary"].notna())).tolist()
    assert evaluate_rule("1 < Years <= 3", hitters).tolist() == hitters["Years"].between(2, 3).tolist()
    assert np.allclose(evaluate_rule("CRuns * 2 - Runs ** 2 // 3 % 7", hitters),
                       hitters["CRuns"] * 2 - hitters["Runs"] ** 2 // 3 % 7)
    with pytest.raises(RuleError, match="column 'Salry' is not in the data; did you mean 'Salary'\\?"):
        evaluate_rule("Salry > 3", hitters)
    with pytest.raises(RuleError, match="cannot be computed on the data: arithmetic on a string literal"):
        evaluate_rule("League * 'a' > 'b'", hitters)
    with pytest.raises(RuleError, match="out of range"):  # literals are floats: this fails at once, not after hours
        evaluate_rule("9 ** 9 ** 9 > Years", hitters)


# --- YAML ---------------------------------------------------------------------------------------

def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    import time

    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
                                                   for p, c in zip("abcdefgh", "bcdefghi")]
    spec = _spec(tmp_path, "\n".join(lines) + "\ntarget: [*i]\ndata: {path: d.csv}\n")
    assert len(spec.read_bytes()) < 600
    started = time.perf_counter()
    with pytest.raises(SystemExit) as stop:
        main(["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and time.perf_counter() - started < 5 and len(err) < 500
    assert err.startswith("Error: problem.yaml is not valid YAML at line 2: it uses the alias '*a'; aliases are refused")


def test_a_long_value_is_cut_in_the_error_line(tmp_path):
    from mlsmith.exceptions import ProblemSpecError
    from mlsmith.problem import load_problem

    spec = _spec(tmp_path, f"target: y\ndata: {{path: d.csv}}\nseed: [{', '.join(['1'] * 20000)}]\n")
    with pytest.raises(ProblemSpecError, match=r"'seed' input should be a valid integer; got \[1, 1, .*\.\.\. "
                                               r"\(60,000 characters\)\.") as caught:
        load_problem(spec)
    assert len(str(caught.value)) < 400


def test_a_long_unknown_key_is_cut_in_the_error_line(tmp_path):
    from mlsmith.exceptions import ProblemSpecError
    from mlsmith.problem import load_problem

    spec = _spec(tmp_path, f"target: y\ndata: {{path: d.csv}}\n{'k' * 1000}: 1\n")
    with pytest.raises(ProblemSpecError, match=r"unknown key 'k{200}\.\.\.'") as caught:
        load_problem(spec)
    assert len(str(caught.value)) < 700


def test_a_problem_file_that_is_not_utf8_is_one_error_line(tmp_path, capsys):
    spec = tmp_path / "problem.yaml"
    spec.write_bytes("name: Kündigung\ntarget: y\ndata: {path: d.csv}\n".encode("latin-1"))
    with pytest.raises(SystemExit) as stop:
        main(["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == ("Error: problem.yaml is not UTF-8 text (byte 0xfc at offset 7); "
                                               "save it as UTF-8.")


# --- SQL sources are read-only ------------------------------------------------------------------

@pytest.fixture()
def cars_db(tmp_path) -> Path:
    import sqlite3

    db = tmp_path / "cars.db"
    with sqlite3.connect(db) as conn:
        pd.read_csv(DATA / "cars93.csv").drop(columns=["Unnamed: 0"]).to_sql("t", conn, index=False)
    return db


def _rows(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]


@pytest.mark.parametrize("scheme", ["sqlite:///", "sqlite+pysqlite:///"])
@pytest.mark.parametrize("query, message", [
    ("DROP TABLE t", r"must be a SELECT \(or WITH ... SELECT\) statement; got 'DROP TABLE t'"),
    ("SELECT 1; DROP TABLE t", r"must be one SELECT statement; it holds 2 statements"),
    ("select * from t; -- fine\n; delete from t", r"must be one SELECT statement; it holds 2 statements"),
    ("WITH x AS (SELECT 1) DELETE FROM t", r"must only read, but it holds 'DELETE'"),
    ("SELECT * INTO copy FROM t", r"must only read, but it holds 'INTO'"),
])
def test_a_query_that_writes_leaves_the_table_there(cars_db, scheme, query, message):
    from mlsmith.data import load_data
    from mlsmith.exceptions import DataError
    from mlsmith.problem import DataSpec

    pytest.importorskip("sqlalchemy")
    with pytest.raises(DataError, match=r"'data.query' " + message):
        load_data(DataSpec(url=f"{scheme}{cars_db}", query=query))
    assert _rows(cars_db) == 93


def test_a_select_reads_and_the_connection_is_read_only(cars_db):
    import sqlite3

    from mlsmith.data import load_data
    from mlsmith.problem import DataSpec

    query = "/* the Americans */ SELECT Make, \"MPG.city\" FROM t WHERE Origin = 'USA' -- ; DROP TABLE t\n;"
    for url in (f"sqlite:///{cars_db}", f"sqlite+pysqlite:///{cars_db}"):
        frame = load_data(DataSpec(url=url, query=query))
        cars = pd.read_csv(DATA / "cars93.csv")
        assert frame.shape == (48, 2) and frame["MPG.city"].sum() == cars.loc[cars["Origin"] == "USA", "MPG.city"].sum()
    # the second layer, should a writing statement get past the check: the connection refuses it
    conn = sqlite3.connect(f"file:{cars_db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM t")
    conn.close()
    assert _rows(cars_db) == 93


# --- secrets never leave the process -------------------------------------------------------------

SECRET = "hunter2-s3cret"


# pysqlite ignores the credential parameters (a server URL would use them) and SQLAlchemy says so
@pytest.mark.filterwarnings("ignore:Query string argument")
def test_a_password_in_the_url_is_in_no_file_of_the_run_nor_on_stderr(tmp_path, churn_small, capsys, monkeypatch):
    import sqlite3

    import yaml

    pytest.importorskip("sqlalchemy")
    db = tmp_path / "churn.db"
    with sqlite3.connect(db) as conn:
        churn_small.to_sql("customers", conn, index=False)
    monkeypatch.setenv("CHURN_DB_TOKEN", "tok-" + SECRET)
    spec = {"name": "<script>alert(1)</script> churn", "decision": "Call <b>them</b>?", "target": "churned",
            "data": {"url": f"sqlite+pysqlite:///{db}?password={SECRET}&token=${{CHURN_DB_TOKEN}}",
                     "query": "SELECT * FROM customers", "id_columns": ["customer_id"]},
            "models": ["linear"], "features": "none", "tuning": {"method": "none"},
            "split": {"cv_folds": 2}}
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    main(["run", str(tmp_path / "problem.yaml"), "--runs-dir", str(tmp_path / "runs")])
    out = capsys.readouterr()
    run_dir = Path(out.out.strip().splitlines()[-1])
    files = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    assert run_dir / "model" / "pipeline.skops" in files and len(files) > 8
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
    assert SECRET not in out.out + out.err
    stored = yaml.safe_load((run_dir / "problem.yaml").read_text())["data"]["url"]
    assert stored == f"sqlite+pysqlite:///{db}?password=***&token=${{CHURN_DB_TOKEN}}"
    card = (run_dir / "model" / "MODEL_CARD.md").read_text()
    assert card.startswith("# Model card: &lt;script&gt;alert(1)&lt;/script&gt; churn\n")
    assert "- Decision supported: Call &lt;b&gt;them&lt;/b&gt;?" in card and "<b>" not in card


def test_a_url_that_fails_to_connect_is_masked_in_the_error_line(tmp_path, capsys):
    spec = _spec(tmp_path, f"target: y\ndata:\n  url: postgresql://ana:{SECRET}@127.0.0.1:1/crm?password={SECRET}\n"
                           "  query: SELECT * FROM customers\n")
    with pytest.raises(SystemExit) as stop:
        main(["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(
        "Error: the query in 'data.query' failed on 'postgresql://ana:***@127.0.0.1:1/crm?password=***'")
    assert SECRET not in err


def test_an_unset_environment_variable_in_the_url_is_named(tmp_path, monkeypatch):
    from mlsmith.data import load_data
    from mlsmith.exceptions import ProblemSpecError
    from mlsmith.problem import DataSpec

    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    with pytest.raises(ProblemSpecError, match=r"'data.url' refers to \$\{NO_SUCH_PASSWORD\}, which is not set"):
        load_data(DataSpec(url="postgresql://ana:${NO_SUCH_PASSWORD}@db/crm", query="SELECT 1"))


def test_the_reference_holds_quantiles_not_training_values():
    from mlsmith.monitor._reference import numeric_reference

    hitters = pd.read_csv(DATA / "hitters.csv")
    for column in ("Salary", "CAtBat", "PutOuts"):
        values = hitters[column].to_numpy(dtype=float)
        summary = numeric_reference(values)
        present = values[~np.isnan(values)]
        inner = np.asarray(summary["points"][1:-1])
        assert not summary["exact"] and len(summary["points"]) <= len(present) // 5 + 1
        values, counts = np.unique(present, return_counts=True)
        singles = values[counts == 1]  # the values that single out one player
        assert np.isin(inner, singles).mean() < 0.2, column  # interpolated or tied: rarely one row's value
        assert summary["cum"] == [int((present <= p).sum()) for p in summary["points"]]


def test_a_corrupt_reference_is_one_error_line_for_monitor(tmp_path, churn_small, capsys):
    from _bundles import make_bundle as make_monitored_bundle

    bundle = make_monitored_bundle(tmp_path / "model", churn_small)
    (bundle / "reference.json").write_text('{"features": ')
    _rehash(bundle)
    churn_small.head(50).to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(SystemExit) as stop:
        main(["monitor", str(bundle), str(tmp_path / "rows.csv")])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"Error: model bundle '{bundle}': reference.json is not valid JSON")


def test_a_driver_error_that_repeats_the_password_is_masked(monkeypatch):
    import sqlalchemy

    from mlsmith.data import load_data
    from mlsmith.exceptions import DataError
    from mlsmith.problem import DataSpec

    def refuse(url, **kwargs):  # what a server driver says when it refuses the login
        raise sqlalchemy.exc.OperationalError("connect", {}, Exception(f"password '{SECRET}' rejected for {url}"))

    monkeypatch.setenv("PGPASSWORD_TEST", SECRET)
    monkeypatch.setattr(sqlalchemy, "create_engine", refuse)
    with pytest.raises(DataError) as caught:
        load_data(DataSpec(url="postgresql://ana:${PGPASSWORD_TEST}@db/crm", query="SELECT 1"))
    assert SECRET not in str(caught.value)
    assert "failed on 'postgresql://ana:${PGPASSWORD_TEST}@db/crm': (builtins.Exception) password '***' rejected for " \
           "postgresql://ana:${PGPASSWORD_TEST}@db/crm" in str(caught.value)


class _TouchOnLoad:
    """A pickle that creates ``flag`` when it is loaded: what any shared pickle could do instead."""

    def __init__(self, flag: Path):
        self.flag = flag

    def __reduce__(self):
        return (Path.touch, (self.flag,))


def test_check_pipeline_loads_no_pickle_unless_allowed(tmp_path, capsys):
    import joblib

    flag = tmp_path / "pwned"
    joblib.dump(_TouchOnLoad(flag), tmp_path / "model.joblib")
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(SystemExit) as stop:
        main(["check-pipeline", str(tmp_path / "model.joblib"), str(tmp_path / "train.csv")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("Error: model file 'model.joblib' is a pickle") and "--allow-pickle" in err
    assert not flag.exists()
    with pytest.raises(SystemExit) as stop:  # allowed: the pickle's code runs, and what it built is no estimator
        main(["check-pipeline", str(tmp_path / "model.joblib"), str(tmp_path / "train.csv"), "--allow-pickle"])
    assert stop.value.code == 2 and flag.exists()
    assert capsys.readouterr().err == ("Error: model file 'model.joblib' holds a NoneType, not a scikit-learn "
                                       "estimator; save the fitted estimator, pipeline or search itself.\n")


def test_check_pipeline_refuses_a_skops_type_that_runs_code_before_building_it(churn_small, tmp_path, capsys):
    flag = tmp_path / "pwned"
    bundle = _runstring_bundle(tmp_path / "model", churn_small, flag)
    churn_small.head(50).to_csv(tmp_path / "train.csv", index=False)
    args = ["check-pipeline", str(bundle / "pipeline.skops"), str(tmp_path / "train.csv"), "--target", "churned"]
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert err.startswith("Error: model file 'pipeline.skops' holds type 'numpy.full_like' (and 2 more)")
    assert "--trust numpy.full_like --trust numpy.take --trust numpy.testing._private.utils.runstring" in err
    assert not flag.exists()


def test_check_pipeline_loads_a_users_own_skops_type_once_trusted(churn_small, tmp_path, capsys):
    schema = infer_schema(churn_small, "churned", ["customer_id"])
    pipe = build_pipeline("linear", schema, "binary_classification", 0)
    pipe.steps.insert(0, ("mine", Identity()))
    X = churn_small[schema.features()]
    pipe.fit(X, churn_small["churned"])
    sio.dump(pipe, tmp_path / "model.skops")
    X.to_csv(tmp_path / "train.csv", index=False)
    args = ["check-pipeline", str(tmp_path / "model.skops"), str(tmp_path / "train.csv")]
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2 and "holds type 'test_security.Identity'" in capsys.readouterr().err
    main([*args, "--trust", "test_security.Identity"])  # fitted on exactly these rows: nothing to report
    assert "No step fitted outside the training rows was found." in capsys.readouterr().out


def test_check_pipeline_reads_a_users_fitted_search_without_trust_flags(tmp_path, capsys):
    # A GridSearchCV holds its splitter and scorer, which skops does not trust by itself: scikit-learn's
    # own classes, read without --trust, and the search's refitted pipeline is checked.
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                          {"logisticregression__C": [0.1, 1.0]}, cv=3).fit(X.iloc[:400], y[:400])
    sio.dump(search, tmp_path / "search.skops")
    assert {"sklearn.metrics._scorer._PassthroughScorer", "sklearn.model_selection._split.StratifiedKFold"} <= \
        set(sio.get_untrusted_types(file=tmp_path / "search.skops"))
    X.iloc[:400].to_csv(tmp_path / "train.csv", index=False)
    X.to_csv(tmp_path / "all.csv", index=False)
    main(["check-pipeline", str(tmp_path / "search.skops"), str(tmp_path / "train.csv"), "--full", str(tmp_path / "all.csv")])
    out = capsys.readouterr()
    assert out.err == "" and "No step fitted outside the training rows was found." in out.out
