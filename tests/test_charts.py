"""Charts: Draw's are built in one go (the same lines and labels Plotly's own helpers draw), and
the numbers written in heatmaps stay readable on every cell."""

import itertools

import numpy as np
import plotly.graph_objects as go
import pytest
from conftest import epoch_progress
from plotly.colors import hex_to_rgb, sample_colorscale, unlabel_rgb

from mnist_core.presentation import charts, compare_charts
from ui import filter_steps


def test_dotted_lines_are_the_ones_add_hline_and_add_vline_draw():
    made = go.Figure(layout=dict(charts.marked([charts.dotted_line("y", 0.7, "below")])))
    made.add_shape(charts.dotted_line("x", 10, "now")[0])
    made.add_annotation(charts.dotted_line("x", 10, "now")[1])
    plotly = go.Figure()
    plotly.add_hline(y=0.7, line_dash="dot", annotation_text="below")
    plotly.add_vline(x=10, line_dash="dot", annotation_text="now")
    assert made.layout.shapes == plotly.layout.shapes
    assert made.layout.annotations == plotly.layout.annotations


def test_contrast_is_wcags_ratio():
    """Against WCAG's own figures: black on white 21:1, a colour on itself 1:1, and #767676,
    the lightest grey that passes AA on white, 4.54:1."""
    assert charts.contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert charts.contrast((255, 255, 255), (0, 0, 0)) == pytest.approx(21)
    assert charts.contrast((18, 52, 86), (18, 52, 86)) == pytest.approx(1)
    assert charts.contrast(hex_to_rgb("#767676"), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
    assert charts.contrast(hex_to_rgb("#777777"), (255, 255, 255)) < 4.5


def test_the_per_digit_heatmap_reads_by_lightness_alone():
    """Validation accuracy per digit: each step up the colour scale is lighter, so better and
    worse digits tell apart in greyscale and without telling red from green."""
    scale = charts.digit_learning([]).data[0].colorscale
    lightness = [charts.luminance(hex_to_rgb(colour)) for _at, colour in scale]
    assert all(a < b for a, b in itertools.pairwise(lightness)), lightness


def labelled_heatmaps() -> dict[str, go.Figure]:
    """Every kind of heatmap the app writes numbers in, over its whole colour range."""
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 60, (10, 10)) + np.diag(rng.integers(0, 1000, 10))
    return {
        "pixels": charts.pixel_heatmap(np.arange(256, dtype=np.uint8).reshape(16, 16), "pixels"),
        "confusion": charts.confusion_heatmap(counts, normalize=False),
        "confusion, normalised": charts.confusion_heatmap(counts, normalize=True),
        "per digit": charts.digit_learning(
            [epoch_progress(n, counts + np.diag(rng.integers(0, 800 * n, 10))) for n in (1, 2, 3)]
        ),
        "compare": compare_charts.confusion_difference(counts, counts.T, ("A", "B")),
        "a filter's weights": go.Figure(
            charts.labelled_heatmap(
                [[f"{v:.2f}" for v in np.linspace(-1, 1, 41)]],
                z=[np.linspace(-1, 1, 41)],
                colorscale=filter_steps.SIGNED,
            )
        ),
    }


@pytest.mark.parametrize("name", list(labelled_heatmaps()))
def test_every_number_in_a_heatmap_keeps_4_5_to_1_against_its_cell(name):
    """WCAG AA for text: each number written in a heatmap cell, black or white, has at least
    4.5:1 against the colour Plotly paints that cell; the numbers' text is sized alike."""
    heatmaps = [t for t in labelled_heatmaps()[name].data if t.type == "heatmap"]
    painted = heatmaps[0]
    z = np.asarray(painted.z, dtype=float)
    low = np.nanmin(z) if painted.zmin is None else painted.zmin
    high = np.nanmax(z) if painted.zmax is None else painted.zmax
    cells = sample_colorscale(
        [list(stop) for stop in painted.colorscale], ((z - low) / (high - low)).ravel().tolist()
    )
    labels = [np.asarray(t.text, dtype=object).ravel() for t in heatmaps]
    written = 0
    for cell, colour, *texts in zip(range(z.size), cells, *labels, strict=True):
        assert len({len(text) for text in texts}) == 1, (cell, texts)
        for trace, text in zip(heatmaps, texts):
            if text.strip():
                written += 1
                ink = hex_to_rgb(trace.textfont.color)
                ratio = charts.contrast(unlabel_rgb(colour), ink)
                assert ratio >= 4.5, (cell, text, colour, trace.textfont.color, ratio)
    assert written > 0.8 * z.size  # and no cell is written twice
    assert written == sum(1 for texts in zip(*labels) if any(t.strip() for t in texts))
