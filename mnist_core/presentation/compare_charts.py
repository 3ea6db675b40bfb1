"""Compare's charts: two models side by side, per digit, in their confusions and under turns
and moves (plain data in, figures out; no Streamlit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from mnist_core.data import NUM_CLASSES
from mnist_core.i18n import _
from mnist_core.presentation import charts

if TYPE_CHECKING:  # annotations only: building a chart needs no TensorFlow
    from mnist_core.engine.transforms import AccuracySweep

# Colour-blind safe (ColorBrewer's PuOr): orange for worse, white for no change, purple for better.
BETTER_WORSE = [
    [0.0, "#b35806"],
    [0.25, "#f1a340"],
    [0.5, "#f7f7f7"],
    [0.75, "#998ec3"],
    [1.0, "#542788"],
]


def compare_per_digit(rows_a: list[dict], rows_b: list[dict], names: tuple[str, str]) -> go.Figure:
    """Two models' accuracy per digit side by side."""
    fig = go.Figure(
        [
            go.Bar(
                name=name,
                x=charts.DIGITS,
                y=[r["accuracy"] for r in rows],
                marker_color=colour,
                text=[f"{r['accuracy']:.1%}" for r in rows],
                hovertemplate=_("{name}, digit {x}: {y}").format(name=name, x="%{x}", y="%{y:.2%}")
                + "<extra></extra>",
            )
            for name, rows, colour in zip(names, (rows_a, rows_b), (charts.BLUE, charts.ORANGE))
        ]
    )
    low = min(r["accuracy"] for r in (*rows_a, *rows_b) if r["count"])
    fig.update_yaxes(range=[max(0, low - 0.05), 1], tickformat=".0%", title=_("accuracy"))
    fig.update_xaxes(type="category", title=_("digit"))
    fig.update_layout(
        barmode="group", title=_("Accuracy per digit"), **charts.LAYOUT, **charts.READABLE_LABELS
    )
    return fig


def confusion_difference(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> go.Figure:
    """Confusion counts of B against A, each square coloured and signed by whether B does
    better there: on the diagonal more read right, off it fewer of that mistake. Purple and
    orange, "+" and "−", and the words on hover and on the scale tell better from worse."""
    change = b - a
    better = np.where(np.eye(NUM_CLASSES, dtype=bool), change, -change)
    limit = max(1, int(np.abs(change).max()))
    verdicts = {1: _("better with B"), -1: _("worse with B"), 0: _("no change")}
    hover = [
        [
            _(
                "true {true}, predicted {predicted}: {a} images with A, {b} with B: {verdict}"
            ).format(
                true=t,
                predicted=p,
                a=a[t, p],
                b=b[t, p],
                verdict=verdicts[int(np.sign(better[t, p]))],
            )
            for p in range(NUM_CLASSES)
        ]
        for t in range(NUM_CLASSES)
    ]
    fig = go.Figure(
        charts.labelled_heatmap(
            [[f"{v:+d}".replace("-", "−") if v else "" for v in row] for row in better],
            z=better,
            x=charts.DIGITS,
            y=charts.DIGITS,
            zmin=-limit,
            zmax=limit,
            colorscale=BETTER_WORSE,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            textfont=dict(size=10),  # Plotly would shrink "+967" below 10 px on a phone
            colorbar=dict(
                orientation="h",
                y=-0.02,
                yanchor="top",
                thickness=12,
                len=0.9,
                tickvals=[-limit, 0, limit],
                ticktext=[_("− worse with B"), _("no change"), _("+ better with B")],
            ),
        )
    )
    fig.update_xaxes(title=_("predicted digit"), side="top", type="category", constrain="domain")
    fig.update_yaxes(title=_("true digit"), autorange="reversed", type="category", scaleanchor="x")
    fig.update_layout(margin=dict(l=10, r=10, t=60, b=50), height=520)
    return fig


def accuracy_sweeps(
    sweeps: tuple[AccuracySweep, AccuracySweep], names: tuple[str, str]
) -> go.Figure:
    """Two models' accuracy over the same turns or moves: where each stops reading digits."""
    kind = sweeps[0].kind
    unit = "°" if kind == "rotation" else _(" px")
    fig = go.Figure(
        [
            go.Scatter(
                x=sweep.values,
                y=sweep.accuracy,
                name=name,
                mode="lines+markers",
                line=dict(color=colour, dash=dash),
                marker=dict(symbol=symbol, size=8),
                hovertemplate=_("{name}, {value}: {accuracy}").format(
                    name=name, value=f"%{{x}}{unit}", accuracy="%{y:.1%}"
                )
                + "<extra></extra>",
            )
            for sweep, name, colour, dash, symbol in zip(
                sweeps,
                names,
                (charts.BLUE, charts.ORANGE),
                ("solid", "dash"),
                ("circle", "diamond"),
            )
        ]
    )
    title = _("Turned") if kind == "rotation" else _("Moved sideways")
    axis = _("turn (degrees, anticlockwise)") if kind == "rotation" else _("move (pixels, right)")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title=_("accuracy"))
    fig.update_xaxes(title=axis)
    fig.update_layout(title=title, legend=dict(orientation="h", y=-0.3), **charts.LAYOUT)
    return fig
