"""mlsmith: from problem.yaml to a monitored model in production.

>>> import mlsmith
>>> sorted(mlsmith.__all__) == mlsmith.__all__
True
"""

from .data import Schema, infer_schema, load_data
from .deploy import ModelBundle, compare_log, create_app, export_onnx, predict_file, serve
from .draft import draft_problem
from .eda import EDAReport, explore
from .evaluation import Evaluation, Verdict
from .exceptions import MlsmithError
from .features import FeaturePlan, FeatureResult, measure_gain, plan_features, suggest_plan
from .guards import Finding, GuardReport, check_pipeline
from .monitor import DriftReport, RetrainResult, retrain  # the monitor() function: mlsmith.monitor.monitor
from .problem import Problem, load_problem
from .quality import QualityReport, assess_quality
from .recommend import Recommendation, recommend
from .selection import Leaderboard, compare_models
from .tuning import LearningCurve, TuningResult, learning_curves, tune
from .workflow import RunResult, run

__all__ = [
    "DriftReport",
    "EDAReport",
    "Evaluation",
    "FeaturePlan",
    "FeatureResult",
    "Finding",
    "GuardReport",
    "Leaderboard",
    "LearningCurve",
    "MlsmithError",
    "ModelBundle",
    "Problem",
    "QualityReport",
    "Recommendation",
    "RetrainResult",
    "RunResult",
    "Schema",
    "TuningResult",
    "Verdict",
    "assess_quality",
    "check_pipeline",
    "compare_log",
    "compare_models",
    "create_app",
    "draft_problem",
    "explore",
    "export_onnx",
    "infer_schema",
    "learning_curves",
    "load_data",
    "load_problem",
    "measure_gain",
    "plan_features",
    "predict_file",
    "recommend",
    "retrain",
    "run",
    "serve",
    "suggest_plan",
    "tune",
]
__version__ = "0.1.0"
