"""The pyfunc model of :mod:`mlsmith.tracking` (a module apart: it imports mlflow, an optional extra)."""

from __future__ import annotations

import mlflow.pyfunc


class BundleModel(mlflow.pyfunc.PythonModel):
    """An mlsmith model bundle behind MLflow's pyfunc interface: the predictions of ``ModelBundle.predict``.

    The bundle travels as the model's ``bundle`` artifact and is loaded (verified against its manifest,
    its types checked) by :meth:`mlsmith.ModelBundle.load`. MLflow itself stores this object with
    cloudpickle: load MLflow models only from stores you trust.
    """

    def load_context(self, context) -> None:
        from .deploy import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input, params=None):
        return self.bundle.predict(model_input)
