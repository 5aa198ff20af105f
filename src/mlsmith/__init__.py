"""mlsmith: from problem.yaml to a monitored model in production.

>>> import mlsmith
>>> sorted(mlsmith.__all__) == mlsmith.__all__
True
>>> mlsmith.load_problem.__module__
'mlsmith.problem'

"""

# The public names load their module on first use (PEP 562): ``import mlsmith`` and the CLI start
# without importing scikit-learn, so ``mlsmith run`` can start its CV workers first.
_WHERE = {
    "CVSetup": "_experiment",
    "DriftReport": "monitor",
    "EDAReport": "eda",
    "Evaluation": "evaluation",
    "FeaturePlan": "features",
    "FeatureResult": "ablation",
    "Finding": "guards",
    "GuardReport": "guards",
    "Leaderboard": "selection",
    "LearningCurve": "tuning",
    "MlsmithError": "exceptions",
    "ModelBundle": "deploy",
    "Problem": "problem",
    "QualityReport": "quality",
    "Recommendation": "recommender",
    "RetrainResult": "retraining",
    "RunResult": "workflow",
    "Schema": "data",
    "TuningResult": "tuning",
    "Verdict": "evaluation",
    "assess_quality": "quality",
    "check_pipeline": "guards",
    "compare_log": "deploy",
    "compare_models": "selection",
    "create_app": "deploy",
    "draft_problem": "draft",
    "explore": "eda",
    "export_onnx": "deploy",
    "infer_schema": "data",
    "learning_curves": "tuning",
    "load_data": "data",
    "load_problem": "problem",
    "log_to_mlflow": "tracking",
    "measure_gain": "ablation",
    "plan_features": "features",
    "predict_file": "deploy",
    "recommend": "recommender",
    "retrain": "retraining",
    "run": "workflow",
    "serve": "deploy",
    "suggest_plan": "features",
    "tune": "tuning",
}


from ._lazy import attach  # noqa: E402

__getattr__, __dir__ = attach(__name__, _WHERE)

#: The public names: those of the lazy table, so that the two cannot disagree.
__all__ = sorted(_WHERE)
__version__ = "0.1.0"
