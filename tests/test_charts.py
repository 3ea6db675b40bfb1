"""Draw's charts are built in one go: the same lines and labels Plotly's own helpers draw."""

import itertools

import plotly.graph_objects as go
from conftest import contrast, luminance
from plotly.colors import hex_to_rgb

from mnist_core.presentation import charts


def test_dotted_lines_are_the_ones_add_hline_and_add_vline_draw():
    made = go.Figure(layout=dict(charts.marked([charts.dotted_line("y", 0.7, "below")])))
    made.add_shape(charts.dotted_line("x", 10, "now")[0])
    made.add_annotation(charts.dotted_line("x", 10, "now")[1])
    plotly = go.Figure()
    plotly.add_hline(y=0.7, line_dash="dot", annotation_text="below")
    plotly.add_vline(x=10, line_dash="dot", annotation_text="now")
    assert made.layout.shapes == plotly.layout.shapes
    assert made.layout.annotations == plotly.layout.annotations


def test_the_per_digit_heatmap_reads_by_lightness_alone():
    """Validation accuracy per digit: each step up the colour scale is lighter, so better and
    worse digits tell apart in greyscale and without telling red from green, and each cell's
    percentage keeps at least 4.5:1 against it."""
    heatmap = charts.digit_learning([]).data[0]
    colours = [hex_to_rgb(colour) for _at, colour in heatmap.colorscale]
    lightness = [luminance(colour) for colour in colours]
    assert all(a < b for a, b in itertools.pairwise(lightness)), lightness
    text = hex_to_rgb(heatmap.textfont.color)
    assert all(contrast(colour, text) >= 4.5 for colour in colours), heatmap.textfont.color
