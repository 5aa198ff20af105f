"""The model card: a markdown page in the bundle saying what the model is for and how far to trust it."""

from __future__ import annotations

from html import escape
from typing import Any

from ..target import whole_model

__all__ = ["CARD_FILE", "model_card"]

CARD_FILE = "MODEL_CARD.md"


def _text(value: Any) -> str:
    """Spec text as markdown that renders no HTML: a card is shown by hubs and viewers that would run it."""
    return escape(str(value), quote=False)


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("—" if value is None else str(value))


def model_card(problem: dict[str, Any], metadata: dict[str, Any], evaluation: dict[str, Any],
               onnx: dict[str, Any] | None = None, notes: list[str] | None = None) -> str:
    """Render the model card from the run's data: problem, data, metrics, threshold, limitations.

    Parameters
    ----------
    problem
        ``Problem.to_yaml_dict()``.
    metadata
        The bundle's metadata (model family, classes, decision threshold, training rows, versions).
    evaluation
        ``Evaluation.to_dict()`` (test metrics, baseline, verdict).
    onnx
        ``OnnxExport.to_dict()``, when an export was attempted.
    notes
        The run's notes (rows dropped, samples taken).

    Examples
    --------
    >>> card = model_card({"name": "Churn", "target": "churned", "type": "binary_classification"},
    ...                   {"model": "linear", "n_train": 800}, {"test_metrics": {"recall": 0.81}, "n_test": 200})
    >>> print(card.splitlines()[0])
    # Model card: Churn
    """
    verdict = evaluation.get("verdict") or {}
    lines = [f"# Model card: {_text(problem.get('name', 'model'))}", ""]
    lines += ["## Problem", ""]
    if problem.get("decision"):
        lines.append(f"- Decision supported: {_text(problem['decision'])}")
    lines.append(f"- Task: {problem.get('type')}; target `{problem.get('target')}`"
                 + (f", positive class `{problem['positive_class']}`" if problem.get("positive_class") is not None else ""))
    if problem.get("success_metric"):
        lines.append(f"- Success criterion: {problem['success_metric']} "
                     f"{'>=' if verdict.get('direction', 'higher') == 'higher' else '<='} {_num(problem.get('threshold'))} on the test split")
    if problem.get("stakeholders"):
        lines.append(f"- Stakeholders: {_text(', '.join(map(str, problem['stakeholders'])))}")
    lines += ["", "## Data", ""]
    data = problem.get("data") or {}
    lines.append(f"- Source: {_text(data.get('path') or data.get('url') or '—')}"
                 + (f" ({_text(', '.join(map(str, problem['data_sources'])))})" if problem.get("data_sources") else ""))
    lines.append(f"- Training rows: {_num(metadata.get('n_train'))}; held-out test rows: {_num(evaluation.get('n_test'))}"
                 + ("; after the test verdict the model was refit on the training and test rows together"
                    if metadata.get("fit_on") == "all" else ""))
    if metadata.get("data_fingerprint"):
        lines.append(f"- Training data fingerprint (SHA-256): `{metadata['data_fingerprint'][:16]}…`")
    lines += ["", "## Model", "", f"- Family: {metadata.get('model')}; seed {_num(metadata.get('seed'))}"]
    if metadata.get("version"):
        lines.append(f"- Bundle version: `{metadata['version']}`")
    lines += ["", "## Metrics (held-out test split)", "", "| metric | model | baseline |", "|---|---|---|"]
    baseline = evaluation.get("baseline_metrics") or {}
    for name, value in (evaluation.get("test_metrics") or {}).items():
        lines.append(f"| {name} | {_num(value)} | {_num(baseline.get(name))} |")
    if evaluation.get("baseline"):
        lines.append(f"\nBaseline: {evaluation['baseline']}.")
    if verdict.get("summary"):
        lines.append(f"\nVerdict: {verdict['summary']}.")
    lines += ["", "## Decision threshold", ""]
    threshold = metadata.get("decision_threshold")
    if threshold is None:
        lines.append("- None: the model is not a binary classifier.")
    else:
        reason = evaluation.get("threshold_reason") or "chosen on out-of-fold predictions"
        lines.append(f"- Predict the positive class when its probability is >= {threshold:.4f} ({reason}).")
    lines += ["", "## Limitations", ""]
    lines.append("- Valid for data like the training data: inputs outside the training ranges or categories "
                 "are refused or extrapolated; monitor drift (`mlsmith monitor`) and retrain "
                 f"{problem.get('constraints', {}).get('retraining_frequency') or 'when drift is found'}.")
    if verdict.get("status") == "invalid":
        lines.append(f"- The test score is INVALID: {verdict.get('reason')}; fix that before trusting any figure above.")
    elif verdict.get("met") is False:
        lines.append("- The model does NOT meet its success criterion on the test split; do not deploy it for the "
                     "stated decision without review.")
    if verdict.get("beats_baseline") is False:
        lines.append("- The model does not beat the baseline on the test split.")
    lines.append("- Metrics come from one held-out split; they carry sampling error, larger for small test sets.")
    for note in notes or []:
        lines.append(f"- {note}.")
    if onnx is not None:
        lines += ["", "## Formats", ""]
        gives = {"binary_classification": "the classes by the decision threshold above",
                 "multiclass_classification": "the most probable class"}.get(problem.get("type") or "", "the predictions")
        lines.append("- `pipeline.skops`: the whole model as one scikit-learn estimator, loaded without running untrusted "
                     f"code; its own `predict` gives {gives}.")
        if onnx.get("converted"):
            lines.append(f"- `model.onnx`: matches the pipeline within {onnx['max_abs_diff']:.1e} on "
                         f"{onnx['n_rows_checked']} held-out rows (`mlsmith serve --runtime onnx`).")
        else:
            lines.append(f"- No ONNX export: {onnx.get('reason')}.")
    return "\n".join(lines) + "\n"


def bundle_extras(pipeline, X_test, problem: dict[str, Any], metadata: dict[str, Any], evaluation: dict[str, Any],
                  notes: list[str] | None = None) -> tuple[dict[str, str | bytes], dict[str, Any]]:
    """The files the workflow adds to a bundle (ONNX export, model card) and their summary for results.json.

    The ONNX graph is verified on the test split's rows ``X_test``: it only compares two
    implementations of the same fitted model, so no decision is taken on the test data. A
    classifier fitted on class codes is exported whole (:func:`~mlsmith.target.whole_model`), as
    :func:`~mlsmith.deploy.save_bundle` saves it.
    """
    from ._onnx import export_onnx

    model = whole_model(pipeline, metadata["task"], metadata.get("classes"), metadata.get("decision_threshold"))
    export = export_onnx(model, X_test, metadata["task"])
    files = export.files()
    files[CARD_FILE] = model_card(problem, metadata, evaluation, export.to_dict(), notes)
    return files, {"onnx": export.to_dict(), "model_card": CARD_FILE}
