"""Stage 4: feature engineering — scikit-learn transformers and the plan that applies them."""

from ._aggregate import GroupAggregate
from ._binning import Binning
from ._dates import DateFeatures, ElapsedDays
from ._gain import FeatureResult, measure_gain
from ._log import LogTransform
from ._plan import FeaturePlan, plan_features, suggest_plan
from ._ratios import Ratios

__all__ = [
    "Binning",
    "DateFeatures",
    "ElapsedDays",
    "FeaturePlan",
    "FeatureResult",
    "GroupAggregate",
    "LogTransform",
    "Ratios",
    "measure_gain",
    "plan_features",
    "suggest_plan",
]
