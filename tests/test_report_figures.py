"""The report's figures: each drawn once, to the pixels matplotlib's savefig gives, as a light PNG."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import mlsmith.report._eda_figures as eda_figures
import mlsmith.report._evaluation_figures as evaluation_figures
from mlsmith.report._evaluation_figures import classification_figures
from mlsmith.report._figures import Drawing, draw, figure, png_bytes, write_figures

EVALUATION = {
    "classes": ["no", "yes"],
    "decision_threshold": 0.4,
    "confusion_matrix": [[50, 4], [6, 40]],
    "curves": {
        "roc": {"fpr": [0.0, 0.1, 0.3, 1.0], "tpr": [0.0, 0.7, 0.9, 1.0], "auc": 0.88},
        "pr": {"recall": [1.0, 0.9, 0.7, 0.0], "precision": [0.46, 0.8, 0.9, 1.0], "average_precision": 0.85,
               "auc": 0.84, "prevalence": 0.46},
        "operating_point": {"threshold": 0.4, "fpr": 0.1, "tpr": 0.7, "precision": 0.9},
        "calibration": {"mean_predicted": [0.05, 0.3, 0.6, 0.9], "fraction_positive": [0.02, 0.35, 0.55, 0.95],
                        "histogram": [30, 8, 5, 2, 1, 1, 3, 4, 10, 36]},
        "brier": 0.08,
    },
}


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _line_figure(layout: str | None = "constrained") -> Figure:
    fig = figure(4, 2.5, layout=layout)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [3, 1, 2], label="a line")
    ax.set_title("A title", loc="left")
    ax.set_ylabel("a long y label")
    ax.legend()
    return fig


@pytest.fixture
def draws(monkeypatch):
    """The figures drawn, one entry per ``Figure.draw`` call."""
    drawn = []
    original = Figure.draw

    def counting_draw(self, renderer):
        drawn.append(self)
        return original(self, renderer)

    monkeypatch.setattr(Figure, "draw", counting_draw)
    return drawn


@pytest.mark.parametrize("layout", ["constrained", None])
@pytest.mark.parametrize("dpi", [100, 72])
def test_png_is_drawn_once_to_the_pixels_of_savefig(draws, layout, dpi):
    png = png_bytes(_line_figure(layout), dpi)
    assert len(draws) == 1  # savefig lays out a constrained figure in a draw of its own first
    saved = io.BytesIO()
    _line_figure(layout).savefig(saved, format="png", dpi=dpi)
    expected = _pixels(saved.getvalue())
    assert expected.shape == (round(2.5 * dpi), 4 * dpi, 3)
    np.testing.assert_array_equal(_pixels(png), expected)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGB" and len(png) < len(saved.getvalue())  # no alpha channel: the figure is opaque


def test_a_figure_with_transparency_keeps_its_alpha_channel():
    fig = _line_figure()
    fig.patch.set_alpha(0.0)
    image = Image.open(io.BytesIO(png_bytes(fig)))
    assert image.mode == "RGBA" and image.getextrema()[3][0] == 0


def test_each_evaluation_figure_is_drawn_once(draws):
    drawings = [drawing for _, drawing in classification_figures(EVALUATION)]
    assert len(drawings) == 3 and len(draws) == 3 and len(set(map(id, draws))) == 3
    for drawing in drawings:
        tag = re.fullmatch(r'<img class="fig" src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="[^"]+">',
                           drawing.__html__())
        assert base64.b64decode(tag.group(1)) == drawing.png and Image.open(io.BytesIO(drawing.png)).mode == "RGB"


def _captured(monkeypatch, module) -> list[Figure]:
    """The figures ``module`` hands to ``draw``, drawn (nothing encoded)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figures = []

    def capture(fig, alt, dpi=100):
        FigureCanvasAgg(fig).draw()
        figures.append(fig)
        return Drawing(b"", alt)

    monkeypatch.setattr(module, "draw", capture)
    return figures


def _axes_pixels(fig: Figure) -> np.ndarray:
    return np.array([ax.get_position().extents for ax in fig.axes]) * np.tile(fig.bbox.size, 2)


def test_fixed_margins_put_the_axes_where_constrained_layout_does(monkeypatch):
    # ROC/PR and calibration skip the layout engine (its pass is a third of their drawing time): their
    # labels do not depend on the data, so the margins are those constrained layout computes for them.
    fixed = _captured(monkeypatch, evaluation_figures)
    classification_figures({**EVALUATION, "confusion_matrix": None})
    assert len(fixed) == 2 and all(fig.get_layout_engine() is None for fig in fixed)
    monkeypatch.setattr(evaluation_figures, "_ROC_PR_MARGINS", {})
    monkeypatch.setattr(evaluation_figures, "_CALIBRATION_MARGINS", {})
    monkeypatch.setattr(evaluation_figures, "figure", lambda width, height, layout=None: figure(width, height))
    constrained = _captured(monkeypatch, evaluation_figures)
    classification_figures({**EVALUATION, "confusion_matrix": None})
    assert all(fig.get_layout_engine() is not None for fig in constrained)
    for a, b in zip(fixed, constrained):
        np.testing.assert_allclose(_axes_pixels(a), _axes_pixels(b), atol=0.1)


def test_feature_grids_make_no_axes_for_the_empty_places(monkeypatch):
    from sklearn.datasets import load_breast_cancer

    from mlsmith.eda import explore
    from mlsmith.runs import to_jsonable

    df = load_breast_cancer(as_frame=True).frame.iloc[:, -9:]  # eight features and the target
    drawn = _captured(monkeypatch, eda_figures)
    assert len(eda_figures.feature_grids(to_jsonable(explore(df, "target", seed=0)))) == 2
    assert [len(fig.axes) for fig in drawn] == [6, 2]
    assert all(ax.axison and ax.get_title() for fig in drawn for ax in fig.axes)


def test_the_calibration_histogram_labels_its_log_scale_without_mathtext(monkeypatch):
    from matplotlib.mathtext import MathTextParser

    monkeypatch.setattr(MathTextParser, "parse", lambda *a, **k: pytest.fail("mathtext parsed"))
    drawn = _captured(monkeypatch, evaluation_figures)
    classification_figures(EVALUATION)
    histogram = drawn[1].axes[1]
    assert histogram.get_yscale() == "symlog"
    labels = [t.get_text() for t in histogram.get_yticklabels() if t.get_text()]
    assert labels == ["0", "10⁰", "10¹"]  # the histogram's counts go up to 36


def test_write_figures_writes_the_bytes_drawn_named_by_their_alt_text(tmp_path):
    alts = ['Recall "at" the threshold: 0.8 <b>&</b>', "Größe über Zeit — 東京", "日本"]
    drawings = [draw(_line_figure(), alt, dpi=40) for alt in alts]
    written = write_figures(drawings, tmp_path / "figures")
    assert [p.name for p in written] == ["01-recall-at-the-threshold-0-8-b-b.png", "02-gr-e-ber-zeit.png", "03-figure.png"]
    assert [p.read_bytes() for p in written] == [d.png for d in drawings]
    assert sorted((tmp_path / "figures").iterdir()) == written
    # the page embeds the same bytes, the alt text escaped
    assert drawings[0].__html__().endswith('alt="Recall &#34;at&#34; the threshold: 0.8 &lt;b&gt;&amp;&lt;/b&gt;">')


def test_a_page_lists_the_figures_it_embeds_in_page_order(tmp_path):
    """The page's figures as data are the images its HTML shows, byte for byte and in order."""
    from sklearn.datasets import load_breast_cancer

    from mlsmith.eda import explore
    from mlsmith.problem import parse_problem
    from mlsmith.report._html import render_page
    from mlsmith.runs import to_jsonable

    df = load_breast_cancer(as_frame=True).frame.iloc[:200, -9:]
    df.iloc[::7, 0] = np.nan  # two columns with missing values: the missingness heatmap is drawn
    df.iloc[::5, 1] = np.nan
    gain = {"mode": "auto", "plan": [], "notes": [], "family": "linear", "metric": "recall", "greater_is_better": True,
            "raw_score": 0.79, "full_score": 0.82, "final_score": 0.81,
            "groups": [{"group": "log", "columns": ["worst area"], "score_without": 0.8, "gain": 0.02, "decision": "kept"}]}
    problem = parse_problem({"name": "figures", "target": "target", "data": {"path": "unread.csv"}}).to_yaml_dict()
    page = render_page({"problem": problem, "eda": to_jsonable(explore(df, "target", seed=0)), "features": gain})
    shown = re.findall(r'<img class="fig" src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', page.html)
    assert len(shown) == len(page.figures) == 5  # the overview, missingness, two feature grids; the features' gain
    assert [base64.b64decode(data) for data, _ in shown] == [d.png for d in page.figures]
    written = write_figures(page.figures, tmp_path)
    assert [p.read_bytes() for p in written] == [base64.b64decode(data) for data, _ in shown]


def test_a_monitoring_section_without_tested_columns_shows_no_figure_and_no_none():
    """No column or prediction with rows to compare (every current value missing): no figure, and not
    the word None where the figures would be."""
    from mlsmith.report._monitor import html

    untested = {"name": "note", "role": "text", "test": None, "statistic": None, "p_adjusted": None, "psi": None,
                "js_net": None, "band": None, "psi_band": None, "missing": {"reference": 0.0, "current": 0.1},
                "drifted": False, "bins": None}
    data = {"verdict": {"status": "ok", "summary": "no drift", "reasons": []}, "n_rows": 40, "alpha": 0.05,
            "source": {"kind": "file", "path": "new.csv"}, "bundle": "runs/x/model", "model": {"model": "linear"},
            "performance": None, "features": [untested], "findings": [],
            "prediction": {**untested, "what": "the predicted probability", "source": "test split", "test": "ks",
                           "band": "no rows to compare", "p_value": None}}
    section = html(data)
    assert section.figures == () and "<img" not in section.html
    assert "None" not in section.html and "<td>note</td>" in section.html
