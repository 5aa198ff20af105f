"""The spec's seed reaches every random step: one path from problem.yaml to each estimator, encoder,
splitter and search (issue 20: the seed was threaded by hand, with disagreeing defaults)."""

import json

import numpy as np
import pandas as pd

import mlsmith
from mlsmith.deploy import ModelBundle
from mlsmith.target import code_model

from conftest import write_problem


def test_seed_7_reaches_every_random_step_of_the_run(tmp_path):
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
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)

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


def test_a_text_column_with_a_short_vocabulary_is_reduced_to_as_many_components_as_terms():
    # 'note' has 8 distinct words: TF-IDF gives 8 terms, fewer than the 16 components asked for, and
    # scikit-learn's TruncatedSVD refused to fit, so every family of the run failed.
    from mlsmith.data import infer_schema
    from mlsmith.pipeline import build_preprocessor

    rng = np.random.default_rng(1)
    words = np.array(["late", "early", "broken", "fine", "refund", "happy", "slow", "fast"])
    frame = pd.DataFrame({"note": [" ".join(rng.choice(words, 3)) for _ in range(200)], "y": rng.integers(0, 2, 200)})
    prep = build_preprocessor(infer_schema(frame, "y", roles={"note": "text"}), scale=False, seed=0)
    out = prep.fit_transform(frame[["note"]], frame["y"])
    assert out.shape == (200, 8) and np.isfinite(out).all()
    assert prep.named_transformers_["text_note"][-1].components_.shape == (8, 8)
