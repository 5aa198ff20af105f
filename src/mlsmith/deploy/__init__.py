"""Stage 7b: deployment — the model bundle, batch scoring, and (later) serving and export."""

from ._bundle import ModelBundle, predict_file, save_bundle

__all__ = ["ModelBundle", "predict_file", "save_bundle"]
