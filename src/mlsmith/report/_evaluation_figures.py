"""The evaluation's figures, drawn from its results data (the numbers are in results.json)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._figures import PALETTE, Drawing, draw, figure

__all__ = ["classification_figures", "explanation_figures", "regression_figures"]


def _style(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _roc_pr(curves: dict[str, Any], label: str | None = None, color: str = PALETTE[0], axes=None, point=None):
    ax_roc, ax_pr = axes
    roc, pr = curves["roc"], curves["pr"]
    ax_roc.plot(roc["fpr"], roc["tpr"], color=color, lw=1.8, label=f"{label + ' ' if label else ''}AUC {roc['auc']:.3f}")
    ax_pr.plot(pr["recall"], pr["precision"], color=color, lw=1.8,
               label=f"{label + ' ' if label else ''}AP {pr['average_precision']:.3f}")
    if point:
        ax_roc.plot([point["fpr"]], [point["tpr"]], "o", color=PALETTE[3], ms=7,
                    label=f"threshold {point['threshold']:.3g}")
        ax_pr.plot([point["tpr"]], [point["precision"]], "o", color=PALETTE[3], ms=7,
                   label=f"threshold {point['threshold']:.3g}")


#: Fixed margins for the two figures whose ticks, labels and titles do not depend on the data (the
#: binary ROC and precision-recall curves on axes limited to [0, 1]; the calibration curve, whose
#: points lie in [0, 1], beside a histogram on a log scale): the places constrained layout gives their
#: axes, without the layout pass it adds to every draw (a third of their drawing time). The other
#: figures' labels are class or column names and numbers of any size: they keep the layout engine.
_ROC_PR_MARGINS = {"left": 0.055781, "right": 0.989065, "bottom": 0.125448, "top": 0.938157, "wspace": 0.158127}
_CALIBRATION_MARGINS = {"left": 0.055781, "right": 0.995833, "bottom": 0.140207, "top": 0.930881, "wspace": 0.144071}


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _position=None) -> str:
    """A count axis's tick on a log scale as plain text, "10²"; matplotlib's label is mathtext, whose
    parser costs the report ~50 ms to set up.

    >>> [_power_of_ten(v) for v in (0, 1, 10, 1000, 20)]
    ['0', '10⁰', '10¹', '10³', '']
    """
    if value == 0:
        return "0"
    exponent = np.log10(abs(value))
    if not np.isclose(exponent, round(exponent)):
        return ""
    return ("−" if value < 0 else "") + "10" + str(round(exponent)).translate(_SUPERSCRIPT)


def classification_figures(d: dict[str, Any]) -> list[tuple[str, Drawing]]:
    """(caption, figure) pairs: ROC and PR curves, calibration, confusion matrix."""
    curves, out = d.get("curves") or {}, []
    if "roc" in curves:
        fig = figure(10, 3.8, layout=None)
        ax_roc, ax_pr = fig.subplots(1, 2, gridspec_kw=_ROC_PR_MARGINS)
        ax_roc.plot([0, 1], [0, 1], ls="--", color="#999", lw=1, label="chance")
        ax_pr.axhline(curves["pr"]["prevalence"], ls="--", color="#999", lw=1,
                      label=f"chance (prevalence {curves['pr']['prevalence']:.3f})")
        _roc_pr(curves, axes=(ax_roc, ax_pr), point=curves.get("operating_point"))
        _style(ax_roc, "false positive rate", "true positive rate (recall)", "ROC curve")
        _style(ax_pr, "recall", "precision", "Precision-recall curve")
        for ax in (ax_roc, ax_pr):
            ax.legend(fontsize=8, loc="lower right" if ax is ax_roc else "upper right")
            ax.set_xlim(-0.01, 1.01)
            ax.set_ylim(-0.01, 1.01)
        out.append(("ROC and precision-recall curves on the test split; the dot is the chosen decision threshold.",
                    draw(fig, "ROC and precision-recall curves")))
    elif curves.get("per_class"):
        fig = figure(10, 3.8)
        axes = fig.subplots(1, 2)
        for i, (name, c) in enumerate(curves["per_class"].items()):
            _roc_pr(c, label=name, color=PALETTE[i % len(PALETTE)], axes=axes)
        axes[0].plot([0, 1], [0, 1], ls="--", color="#999", lw=1)
        _style(axes[0], "false positive rate", "true positive rate", "ROC, one class vs rest")
        _style(axes[1], "recall", "precision", "Precision-recall, one class vs rest")
        for ax in axes:
            ax.legend(fontsize=8)
        out.append(("One-vs-rest ROC and precision-recall curves per class on the test split.",
                    draw(fig, "per-class ROC and precision-recall curves")))
    cal = curves.get("calibration")
    if cal:
        fig = figure(10, 3.4, layout=None)
        ax, axh = fig.subplots(1, 2, width_ratios=[1.3, 1], gridspec_kw=_CALIBRATION_MARGINS)
        ax.plot([0, 1], [0, 1], ls="--", color="#999", lw=1, label="perfectly calibrated")
        ax.plot(cal["mean_predicted"], cal["fraction_positive"], "o-", color=PALETTE[0], label="model")
        _style(ax, "mean predicted probability (decile bins)", "observed share of positives",
               f"Calibration — Brier score {curves['brier']:.4f}")
        ax.legend(fontsize=8)
        edges = np.linspace(0, 1, 11)
        axh.bar(edges[:-1], cal["histogram"], width=0.1, align="edge", color=PALETTE[0], alpha=0.8)
        axh.set_yscale("symlog")
        axh.yaxis.set_major_formatter(_power_of_ten)
        _style(axh, "predicted probability", "test rows", "How the predictions spread")
        out.append(("Calibration: do predicted probabilities match observed rates? Bins hold equal numbers of rows.",
                    draw(fig, "calibration curve")))
    cm = d.get("confusion_matrix")
    if cm:
        cm_arr = np.asarray(cm, dtype=float)
        share = cm_arr / np.maximum(cm_arr.sum(axis=1, keepdims=True), 1)
        n = len(cm)
        fig = figure(min(3 + 0.7 * n, 8), min(2.6 + 0.6 * n, 7))
        ax = fig.subplots()
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        names = [str(c) for c in d.get("classes") or range(n)]
        ax.set_xticks(range(n), names)
        ax.set_yticks(range(n), names)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{int(cm_arr[i, j])}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=9,
                        color="white" if share[i, j] > 0.6 else "#1d2430")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("Confusion matrix (count, share of true class)", fontsize=10, loc="left")
        rule = "at the decision threshold" if d.get("decision_threshold") is not None else "predicting the most probable class"
        out.append((f"Confusion matrix on the test split, {rule}.", draw(fig, "confusion matrix")))
    return out


def regression_figures(d: dict[str, Any]) -> list[tuple[str, Drawing]]:
    """Predicted vs actual, and residuals vs predicted."""
    c = d.get("curves") or {}
    if not c.get("actual"):
        return []
    actual, pred = np.asarray(c["actual"]), np.asarray(c["predicted"])
    fig = figure(10, 3.8)
    ax, axr = fig.subplots(1, 2)
    lo, hi = float(min(actual.min(), pred.min())), float(max(actual.max(), pred.max()))
    ax.scatter(actual, pred, s=9, alpha=0.5, color=PALETTE[0])
    ax.plot([lo, hi], [lo, hi], ls="--", color="#999", lw=1, label="perfect")
    _style(ax, "actual", "predicted", "Predicted vs actual")
    ax.legend(fontsize=8)
    axr.scatter(pred, actual - pred, s=9, alpha=0.5, color=PALETTE[1])
    axr.axhline(0, ls="--", color="#999", lw=1)
    _style(axr, "predicted", "residual (actual - predicted)",
           f"Residuals: mean {c['residual_mean']:.3g}, sd {c['residual_std']:.3g}")
    return [(f"Test split ({c['n_shown']} rows shown).", draw(fig, "predicted vs actual and residuals"))]


def explanation_figures(e: dict[str, Any], classes: list[Any] | None = None) -> list[tuple[str, Drawing]]:
    """Permutation importance bars, and partial dependence of the top columns."""
    out = []
    imp = e.get("permutation_importance") or []
    if imp:
        rows = imp[:15][::-1]
        fig = figure(7, 0.9 + 0.32 * len(rows))
        ax = fig.subplots()
        ax.barh([r["feature"] for r in rows], [r["mean"] for r in rows], xerr=[r["std"] for r in rows],
                color=PALETTE[0], alpha=0.85)
        _style(ax, f"drop in test {e['metric']} when the column is shuffled", "", "Permutation importance")
        out.append((f"Each input column shuffled {e['n_repeats']} times on {e['n_rows']} test rows.",
                    draw(fig, "permutation importance")))
    pdp = [p for p in e.get("partial_dependence") or [] if "average" in p]
    if pdp:
        fig = figure(3.4 * len(pdp), 3.0)
        axes = np.atleast_1d(fig.subplots(1, len(pdp)))
        for ax, p in zip(axes, pdp):
            avg = np.asarray(p["average"], dtype=float)
            grid = np.array(p["grid"], dtype="datetime64[s]") if p.get("dates") else p["grid"]
            if p["categorical"]:
                ax.bar([str(g) for g in grid], avg if avg.ndim == 1 else avg[0], color=PALETTE[2])
            elif avg.ndim == 1:
                ax.plot(grid, avg, color=PALETTE[2], lw=2)
            else:
                for k, series in enumerate(avg):
                    name = classes[k] if classes and k < len(classes) else k
                    ax.plot(grid, series, lw=1.5, color=PALETTE[k % len(PALETTE)], label=str(name))
                if len(avg) > 1:
                    ax.legend(fontsize=7)
            if p.get("dates"):
                ax.tick_params(axis="x", labelrotation=30, labelsize=7)
            _style(ax, p["feature"], p["response"] if ax is axes[0] else "", p["feature"])
        out.append(("Partial dependence: the average prediction as one column varies (training rows), "
                    "other columns as observed.", draw(fig, "partial dependence")))
    return out
