"""Stage 4: feature engineering — scikit-learn transformers and the plan that applies them."""

from ._dates import DateFeatures

__all__ = ["DateFeatures"]
