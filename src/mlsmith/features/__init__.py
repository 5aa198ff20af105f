"""Stage 4: feature engineering — scikit-learn transformers and the plan that applies them (its measured
gain is :mod:`mlsmith.ablation`)."""

from ._aggregate import GroupAggregate
from ._binning import Binning
from ._dates import DateFeatures, ElapsedDays
from ._log import LogTransform
from ._plan import FeaturePlan, plan_features, suggest_plan
from ._ratios import Ratios

__all__ = [
    "Binning",
    "DateFeatures",
    "ElapsedDays",
    "FeaturePlan",
    "GroupAggregate",
    "LogTransform",
    "Ratios",
    "plan_features",
    "suggest_plan",
]
