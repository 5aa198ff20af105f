import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle, export_onnx, model_card, save_bundle
from mlsmith.deploy._onnx import OnnxModel, _plan
from mlsmith.deploy._runtime import Scorer
from mlsmith.exceptions import BundleError
from mlsmith.pipeline import build_pipeline
from mlsmith.target import code_model

from deploy_fixtures import churn_bundle, churn_frame, make_bundle  # noqa: F401  (fixtures)


class Smuggled(TransformerMixin, BaseEstimator):
    """A type from outside the trusted packages: loading it could run its code."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def copy_bundle(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_changed_bytes_are_refused(churn_bundle, tmp_path):
    for name in ("pipeline.skops", "schema.json", "model.onnx"):
        bundle = copy_bundle(churn_bundle, tmp_path / name)
        data = bytearray((bundle / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (bundle / name).write_bytes(bytes(data))
        with pytest.raises(BundleError, match=f"was modified after it was written: the hash of '{name}' does not match"):
            ModelBundle.load(bundle)


def test_a_missing_file_is_refused(churn_bundle, tmp_path):
    bundle = copy_bundle(churn_bundle, tmp_path / "b")
    (bundle / "model.onnx").unlink()
    with pytest.raises(BundleError, match="is incomplete: 'model.onnx' is missing"):
        ModelBundle.load(bundle)


def test_an_injected_untrusted_type_is_refused_even_with_matching_hashes(churn_frame, tmp_path):
    schema = infer_schema(churn_frame, "churned", ["customer_id"])
    pipeline = make_pipeline(Smuggled(), FunctionTransformer())
    # the attacker rewrites the hashes too: the type check still refuses the file before unpickling
    bundle = save_bundle(tmp_path / "evil", pipeline, schema, {"task": "binary_classification"})
    with pytest.raises(BundleError, match=r"holds type 'test_deploy_formats.Smuggled', which mlsmith's pipelines are "
                                          "not made of; refusing to load it"):
        ModelBundle.load(bundle)
    assert isinstance(ModelBundle.load(bundle, trusted=["test_deploy_formats.Smuggled"]).pipeline[0], Smuggled)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "random_forest"])
def test_onnx_export_matches_the_pipeline_on_held_out_rows(churn_frame, family):
    schema = infer_schema(churn_frame, "churned", ["customer_id"])
    train, test = churn_frame.iloc[:500], churn_frame.iloc[500:]
    pipeline = build_pipeline(family, schema, "binary_classification", 0)
    pipeline.set_params(model__n_estimators=30).fit(train[schema.features()], train["churned"])
    export = export_onnx(pipeline, test[schema.features()], "binary_classification")
    assert export.converted, export.reason
    model = OnnxModel(export.model, pipeline, "binary_classification")
    got = model.predict_proba(test[schema.features()])
    want = pipeline.predict_proba(test[schema.features()])
    assert np.abs(got - want).max() == pytest.approx(export.max_abs_diff)
    assert export.max_abs_diff <= 1e-4 and export.n_rows_checked == len(test)


def test_onnx_export_of_a_regressor_and_a_multiclass_model():
    from sklearn.datasets import load_diabetes, load_wine

    for loader, task in ((load_diabetes, "regression"), (load_wine, "multiclass_classification")):
        frame = loader(as_frame=True).frame
        schema = infer_schema(frame, "target")
        pipeline = build_pipeline("linear", schema, task, 0).fit(frame[schema.features()], frame["target"])
        export = export_onnx(pipeline, frame[schema.features()], task)
        assert export.converted, export.reason
        assert export.max_abs_diff <= 1e-4


def test_onnx_export_of_log_and_ratio_features():
    from mlsmith.features import FeaturePlan
    from mlsmith.problem import FeatureSpec

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"spend": rng.lognormal(3, 1.5, n), "balance": rng.normal(0, 500, n),
                          "debt": rng.lognormal(2, 1, n), "income": rng.choice([0.0, 10.0, 50.0, 200.0], n)})
    frame.loc[::17, "spend"] = np.nan  # missing values go through the log and are imputed after it
    frame.loc[::13, "debt"] = np.nan
    frame["y"] = (np.log1p(frame["spend"].fillna(20)) + frame["balance"] / 300 + rng.normal(0, 1, n) > 3).astype(int)
    schema = infer_schema(frame, "y")
    plan = FeaturePlan([FeatureSpec(kind="log", columns=["spend"]),
                        FeatureSpec(kind="log", columns=["balance"], negative="clip"),
                        FeatureSpec(kind="ratio", columns=["debt", "income"])])  # income is 0 on a quarter of rows
    X = frame[schema.features()]
    for family in ("linear", "lightgbm"):
        pipeline = build_pipeline(family, schema, "binary_classification", 0, plan=plan).fit(X[:300], frame["y"][:300])
        export = export_onnx(pipeline, X[300:], "binary_classification")
        assert export.converted, export.reason
        assert export.max_abs_diff <= 1e-4
    blocks = [type(step).__name__ for _, block, _ in pipeline.steps[0][1].transformers_ if hasattr(block, "steps")
              for _, step in block.steps]
    assert {"LogTransform", "Ratios"} <= set(blocks)  # the graph has them, not a Python step beside it


def test_onnx_export_of_days_between_two_dates():
    from mlsmith.deploy._onnx import _plan
    from mlsmith.features import FeaturePlan
    from mlsmith.problem import FeatureSpec

    rng = np.random.default_rng(2)
    n = 300
    opened = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    frame = pd.DataFrame({"opened": opened, "x": rng.normal(size=n),
                          "closed": opened + pd.to_timedelta(rng.integers(0, 200 * 24, n), unit="h")})
    frame.loc[::11, "closed"] = pd.NaT  # not closed yet: missing days, imputed in the graph
    frame["y"] = ((frame["closed"] - frame["opened"]).dt.days.fillna(300) + rng.normal(0, 30, n) > 100).astype(int)
    schema = infer_schema(frame, "y")
    plan = FeaturePlan([FeatureSpec(kind="elapsed", columns=["opened", "closed"])])
    X = frame[schema.features()]
    pipeline = build_pipeline("linear", schema, "binary_classification", 0, plan=plan).fit(X[:200], frame["y"][:200])
    export = export_onnx(pipeline, X[200:], "binary_classification")
    assert export.converted, export.reason
    assert export.max_abs_diff <= 1e-4
    assert "days_opened_to_closed" in [i["name"] for i in export.inputs]  # computed in Python, fed to the graph
    records = [{k: (None if pd.isna(v) else v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                for k, v in r.items()} for r in X[200:210].to_dict("records")]
    _, blocks = _plan(pipeline)
    for block in blocks:  # the server's path from JSON records feeds the same as the DataFrame path
        fast, slow = block.record_feeds(records), block.feeds(X[200:210])
        for name in slow:
            np.testing.assert_array_equal(fast[name], slow[name], err_msg=name)


def test_onnx_export_of_one_hot_categories_with_rare_levels_pooled():
    from sklearn.preprocessing import OneHotEncoder

    from mlsmith.deploy._onnx_ops import _OneHotInfrequent

    rng = np.random.default_rng(1)
    n = 400
    cities = [f"c{i}" for i in range(15)]  # one-hot encoded (at most 20 levels)
    # Training rows: c10-c14, 'legacy' and 'trial' twice each, under the encoder's min_frequency of 5.
    city = np.r_[np.repeat(cities[:10], 29), np.repeat(cities[10:], 2), rng.choice(cities, 100)]
    plan = np.r_[np.repeat(["basic", "plus", "pro"], [100, 100, 96]), ["legacy"] * 2, ["trial"] * 2,
                 rng.choice(["basic", "plus", "pro", "legacy", "trial"], 100)].astype(object)
    train_order = rng.permutation(300)
    city[:300], plan[:300] = city[train_order], plan[train_order]
    frame = pd.DataFrame({"city": city, "x": rng.normal(size=n), "plan": plan})
    frame.loc[300::7, "plan"] = None  # missing only in the test rows: unknown to the encoder
    frame["y"] = (frame["x"] + (frame["plan"] == "pro") + rng.normal(size=n) > 0.5).astype(int)
    schema = infer_schema(frame, "y")
    X, y = frame[schema.features()], frame["y"]
    test = X[300:].copy()
    test.iloc[:3, X.columns.get_loc("city")] = "a city never seen"  # goes to the pooled column, as in scikit-learn
    for family in ("linear", "lightgbm"):
        pipeline = build_pipeline(family, schema, "binary_classification", 0).fit(X[:300], y[:300])
        encoder = next(step for _, block, _ in pipeline.steps[0][1].transformers_ if hasattr(block, "steps")
                       for _, step in block.steps if isinstance(step, OneHotEncoder))
        assert [list(rare) for rare in encoder.infrequent_categories_] == [cities[10:], ["legacy", "trial"]]
        export = export_onnx(pipeline, test, "binary_classification")
        assert export.converted, export.reason
        assert export.max_abs_diff <= 1e-4
    seen = np.array([["c1", "basic"], ["c12", "legacy"], ["unseen", "trial"], ["c3", "(missing)"]], dtype=object)
    np.testing.assert_array_equal(_OneHotInfrequent.of(encoder).transform(seen), encoder.transform(seen))


def test_onnx_export_of_per_key_aggregates(tmp_path):
    from mlsmith.deploy._onnx_ops import _Lookup
    from mlsmith.features import FeaturePlan, GroupAggregate
    from mlsmith.problem import FeatureSpec

    rng = np.random.default_rng(3)
    n = 400
    customer = rng.integers(0, 60, n).astype(float)  # read from a CSV with gaps: keys as floats, e.g. '12.0'
    customer[::23] = np.nan
    spend = rng.gamma(2, 50, n)
    spend[::9] = np.nan
    frame = pd.DataFrame({"customer_id": customer, "spend": spend, "x": rng.normal(size=n)})
    frame["y"] = (frame["x"] + (frame["customer_id"].fillna(0) % 3 == 0) + rng.normal(size=n) > 0.5).astype(int)
    schema = infer_schema(frame, "y")
    plan = FeaturePlan([FeatureSpec(kind="aggregate", columns=["spend"], by="customer_id",
                                    stats=["mean", "sum", "count", "last"])])
    X = frame[schema.features()]
    test = X[300:].copy()
    test.iloc[:4, X.columns.get_loc("customer_id")] = 999.0  # customers never seen: defaults, as GroupAggregate
    for family in ("linear", "lightgbm"):
        pipeline = build_pipeline(family, schema, "binary_classification", 0, plan=plan).fit(X[:300], frame["y"][:300])
        export = export_onnx(pipeline, test, "binary_classification")
        assert export.converted, export.reason
        assert export.max_abs_diff <= 1e-4
    aggregate = next(step for _, block, _ in pipeline.steps[0][1].transformers_ if hasattr(block, "steps")
                     for _, step in block.steps if isinstance(step, GroupAggregate))
    rows = test[["customer_id", "spend"]]
    np.testing.assert_array_equal(_Lookup.of(aggregate).transform(rows), aggregate.transform(rows))
    # the bundle stores the fitted tables (skops refused the pandas objects they used to be)
    metadata = {"task": "binary_classification", "classes": [0, 1], "decision_threshold": 0.5}
    loaded = ModelBundle.load(save_bundle(tmp_path / "b", pipeline, schema, metadata))
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(test), pipeline.predict_proba(test))


def test_a_pipeline_that_does_not_convert_says_why(churn_frame, tmp_path):
    schema = infer_schema(churn_frame, "churned", ["customer_id"])
    X, y = churn_frame[schema.features()], churn_frame["churned"]
    pipeline = build_pipeline("decision_tree", schema, "binary_classification", 0)
    numeric = make_pipeline(Smuggled(), SimpleImputer())
    pipeline.steps[0][1].transformers[0] = ("num", numeric, schema.features("numeric"))
    pipeline.fit(X, y)
    export = export_onnx(pipeline, X, "binary_classification")
    assert (export.converted, export.reason) == (False, "block 'num' starts with Smuggled, which has no ONNX form")
    assert export.files() == {"onnx.json": json.dumps(export.to_dict(), indent=2)}
    metadata = {"task": "binary_classification", "classes": [0, 1], "decision_threshold": 0.5}
    bundle = ModelBundle(tmp_path, pipeline, schema, {**metadata, "files": {"pipeline.skops": "0" * 64}})
    (tmp_path / "onnx.json").write_text(export.files()["onnx.json"])
    with pytest.raises(BundleError, match=r"has no ONNX graph \(block 'num' starts with Smuggled, which has no ONNX "
                                          r"form\); serve it with --runtime sklearn"):
        Scorer(bundle, "onnx")


def test_the_onnx_runtime_of_an_unsaved_bundle_says_to_save_it(churn_frame):
    schema = infer_schema(churn_frame, "churned", ["customer_id"])
    pipeline = build_pipeline("linear", schema, "binary_classification", 0)
    pipeline.fit(churn_frame[schema.features()], churn_frame["churned"])
    metadata = {"task": "binary_classification", "classes": [0, 1], "decision_threshold": 0.5, "version": "0" * 12}
    unsaved = ModelBundle(None, pipeline, schema, metadata)
    with pytest.raises(BundleError, match=r"^the onnx runtime scores a saved model bundle and this one is not saved "
                                          r"yet; save it \(save_bundle\) and load it \(ModelBundle.load\), or use "
                                          r"runtime 'sklearn'\.$"):
        Scorer(unsaved, "onnx")


@pytest.mark.parametrize("n", [5, 50])  # the per-row date path, and the vectorised one
def test_the_record_path_feeds_what_the_pipeline_path_feeds(churn_bundle, churn_frame, n):
    from datetime import datetime

    from mlsmith.deploy._schema import RecordValidator

    bundle = ModelBundle.load(churn_bundle)
    rows = churn_frame.drop(columns=["churned"]).iloc[:n].astype(object)
    recs = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in rows.to_dict("records")]
    recs[0]["signup_date"] = "2024-02-29T23:30:00+02:00"  # a time zone: read as UTC
    recs[2]["signup_date"] = "1174-11-14"  # outside pandas' nanosecond range
    validated, _ = RecordValidator(bundle.schema).validate(json.dumps(recs).encode())
    assert validated[0]["signup_date"] == datetime(2024, 2, 29, 21, 30)  # converted to UTC at validation
    _, blocks = _plan(code_model(bundle.pipeline)[0])
    frame = Scorer(bundle).frame(validated)  # what the sklearn runtime scores
    assert frame.loc[0, "signup_date"] == pd.Timestamp("2024-02-29 21:30")
    for block in blocks:
        fast, slow = block.record_feeds(validated), block.feeds(frame)
        assert fast.keys() == slow.keys()
        for name in fast:
            np.testing.assert_array_equal(fast[name], slow[name], err_msg=name)


def test_model_card_has_problem_data_metrics_threshold_and_limitations():
    problem = {"name": "Churn", "decision": "Who to call", "type": "binary_classification", "target": "churned",
               "positive_class": 1, "success_metric": "recall", "threshold": 0.8, "data": {"path": "churn.csv"},
               "constraints": {"retraining_frequency": "weekly"}}
    metadata = {"model": "lightgbm", "n_train": 4000, "decision_threshold": 0.31, "seed": 42}
    evaluation = {"n_test": 1000, "test_metrics": {"recall": 0.79}, "baseline_metrics": {"recall": 0.55},
                  "baseline": "rule: tenure_months < 3", "threshold_reason": "highest precision with recall >= 0.8",
                  "verdict": {"met": False, "beats_baseline": True, "direction": "higher",
                              "summary": "test recall = 0.7900; target >= 0.8: NOT MET"}}
    card = model_card(problem, metadata, evaluation, {"converted": False, "reason": "no converter"})
    for text in ("# Model card: Churn", "- Decision supported: Who to call", "- Success criterion: recall >= 0.8000",
                 "- Source: churn.csv", "- Training rows: 4000; held-out test rows: 1000", "| recall | 0.7900 | 0.5500 |",
                 "probability is >= 0.3100 (highest precision with recall >= 0.8)", "retrain weekly",
                 "does NOT meet its success criterion", "- No ONNX export: no converter."):
        assert text in card, text
