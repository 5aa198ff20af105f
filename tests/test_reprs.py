"""Every result object a notebook shows renders as the report's own section, with what it computed."""

import yaml

from conftest import EXAMPLES
from mlsmith import ModelBundle, run
from mlsmith.report._html import fmt


def test_leaderboard_tuning_curve_and_bundle_render_their_numbers_escaped(tmp_path):
    spec = yaml.safe_load((EXAMPLES / "breast_cancer" / "problem.yaml").read_text())
    spec.update(models=["linear", "naive_bayes"], tuning={"method": "random", "n_trials": 2}, constraints={})
    spec["data"]["path"] = str(EXAMPLES / "breast_cancer" / "breast_cancer.csv")
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    runs = tmp_path / "<b>runs & co</b>"  # a folder name that is HTML
    result = run(tmp_path / "problem.yaml", runs_dir=runs, n_jobs=1)

    board = result.leaderboard._repr_html_()
    best = result.leaderboard.best
    assert best.label in board and fmt(best.cv_mean) in board and "naive" in board.lower()

    tuning = result.tuning._repr_html_()
    assert fmt(result.tuning.best_score) in tuning
    curve = result.tuning.learning_curve
    assert curve is not None and curve.diagnosis in curve._repr_html_() and "<img" in curve._repr_html_()

    bundle = ModelBundle.load(result.run_dir / "model")._repr_html_()
    assert "seed 42" in bundle and result.bundle["model"] in bundle
    assert "&lt;b&gt;runs &amp; co&lt;/b&gt;" in bundle and "<b>runs" not in bundle
