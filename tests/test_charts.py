"""Draw's charts are built in one go: the same lines and labels Plotly's own helpers draw."""

import plotly.graph_objects as go

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
