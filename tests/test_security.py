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

from mlsmith.catalog import CATALOG, build_pipeline
from mlsmith.cli import main
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle, save_bundle
from mlsmith.deploy._bundle import KEY_ENV, TRUSTED_TYPES, pipeline_bytes
from mlsmith.exceptions import BundleError
from mlsmith.features import FeaturePlan
from mlsmith.problem import FeatureSpec

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
    for _, _, pipe in _every_pipeline(cars):
        needed |= set(sio.get_untrusted_types(data=pipeline_bytes(pipe)))
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
