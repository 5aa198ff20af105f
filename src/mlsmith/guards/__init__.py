"""Guards: the checks that catch the common mistakes of machine learning, with evidence and a fix.

Each check returns :class:`Finding` objects (check, severity, message, evidence, fix). The workflow
runs :func:`check_data` after the split and before training (``--strict`` stops on an error) and
:func:`check_training` once the model is trained; :func:`check_pipeline` checks a user's own
scikit-learn pipeline. The individual checks are public so that each can run on its own; those
that draw random numbers (a sample of rows, folds, a model) take ``seed`` as a required keyword, as
every function of mlsmith does: :func:`check_data` passes the spec's.

=======================  ===================================================================
check                    what it flags
=======================  ===================================================================
target_leakage           a feature that is the target, a function of it, or the class in most rows;
                         a column or pair of columns near-certain far beyond the rest of the table;
                         a text column holding the class name or target value; a few numeric
                         features one formula of which rebuilds it
timestamp_after_outcome  a date recorded after ``data.event_time``
not_available_at_pred.   a date recorded after ``data.prediction_time``
id_order                 an id whose order predicts the target
contamination            rows (to 5 significant digits) or entities in both train and test, beyond
                         chance collisions; an entity column found by its repeated values and
                         shared target; many copies within the training rows
preprocessing_outside_cv a scaler or imputer fitted before the split (:func:`check_pipeline`)
overfitting              a train score far above the cross-validated score
cv_test_gap              a test score whose 95 % interval leaves the cross-validated score out
imbalanced_accuracy      accuracy as the metric on imbalanced classes
seeds                    a random step without a seed
time_order               rows ordered by a date, or a target trending with a date, split at random
train_test_shift         a test split a classifier can tell from the training split (on a time
                         split: set against the drift within the training period)
conflicting_labels       identical feature rows with different classes
missing_target           rows dropped because the target was missing
tuning_range             a best hyperparameter on the edge of its range
unfair_comparison        tuned models compared with untuned ones (:func:`check_comparison`)
=======================  ===================================================================
"""

from .._findings import Finding, Severity
from ._finding import GuardReport
from ._labels import check_conflicting_labels, check_imbalanced_accuracy, check_missing_target
from ._leakage import check_derived_target, check_id_order, check_target_leakage, check_timestamps
from ._oof import single_feature_score
from ._pipeline import check_pipeline, check_pipeline_file
from ._run import check_data, check_training
from ._split import check_adversarial, check_contamination, check_date_trend, check_entities, check_time_order
from ._text import check_text_leakage
from ._training import check_comparison, check_cv_test_gap, check_overfitting, check_seeds, check_tuning_range

__all__ = [
    "Finding",
    "GuardReport",
    "Severity",
    "check_adversarial",
    "check_comparison",
    "check_conflicting_labels",
    "check_contamination",
    "check_cv_test_gap",
    "check_date_trend",
    "check_data",
    "check_derived_target",
    "check_entities",
    "check_id_order",
    "check_imbalanced_accuracy",
    "check_missing_target",
    "check_overfitting",
    "check_pipeline",
    "check_pipeline_file",
    "check_seeds",
    "check_target_leakage",
    "check_text_leakage",
    "check_time_order",
    "check_timestamps",
    "check_training",
    "check_tuning_range",
    "single_feature_score",
]
