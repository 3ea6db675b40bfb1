"""Draw's charts: the probability bars in HTML and the turn or size sweeps (plain data in,
figures out; no Streamlit)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from mnist_core.i18n import _
from mnist_core.presentation import charts

if TYPE_CHECKING:  # annotations only: building a chart needs no TensorFlow
    from mnist_core.engine.transforms import Sweep


def probability_bars(probabilities: np.ndarray, threshold: float) -> str:
    """The ten class probabilities as bars in HTML, the winner highlighted, with the threshold's
    dotted line: drawn by the browser at once (a Plotly figure took it ~90 ms per stroke, before
    the frame that shows the prediction)."""
    best = int(np.argmax(probabilities))
    # Translated outside the f-strings below: Babel finds no message inside one.
    title, below, axis = _("Probability of each digit"), _("not sure below"), _("digit")
    bars, tips = [], []
    for digit, p in enumerate(probabilities):
        colour = charts.HIGHLIGHT_COLOUR if digit == best else charts.BAR_COLOUR
        label = f"{p:.0%}" if p >= 0.01 else ""
        tip = escape(_("digit {digit}: {probability}").format(digit=digit, probability=f"{p:.2%}"))
        tips.append(tip)
        bars.append(
            f'<div title="{tip}" style="position:relative;flex:1;height:100%">'
            f'<div style="position:absolute;bottom:0;left:12%;right:12%;height:{p:.2%};'
            f'background:{colour};border-radius:2px 2px 0 0"></div>'
            f'<div style="position:absolute;bottom:calc({p:.2%} + 2px);width:100%;'
            f'text-align:center;{"font-weight:700" if digit == best else ""}">{label}</div></div>'
        )
    grid = "".join(
        f'<div style="position:absolute;left:0;right:0;bottom:{level:.0%};'
        f'border-top:1px solid currentColor;opacity:0.15"></div>'
        for level in (0.25, 0.5, 0.75, 1.0)
    )
    line = (
        f'<div style="position:absolute;left:0;right:0;bottom:{threshold:.2%};'
        f'border-top:2px dotted currentColor;opacity:0.7"><span style="position:absolute;right:0;'
        f'bottom:2px;font-size:0.75rem">{escape(below)}</span></div>'
    )
    digits = "".join(f'<div style="flex:1;text-align:center">{d}</div>' for d in charts.DIGITS)
    # Lower on a phone, where it sits under the canvas and both must fit on the screen at once.
    return (
        f'<div role="img" aria-label="{escape(title)}: {"; ".join(tips)}" '
        f'style="font-size:0.8rem;padding-top:1.2rem">'
        f'<div style="position:relative;height:clamp(130px,36vw,190px);display:flex;'
        f'border-bottom:1px solid currentColor">{grid}{"".join(bars)}{line}</div>'
        f'<div style="display:flex;padding-top:2px">{digits}</div>'
        f'<div style="text-align:center;opacity:0.8">{escape(axis)}</div></div>'
    )


def sweep_chart(sweep: Sweep, current: float) -> go.Figure:
    """The untouched answer's probability across a rotation or scale range, and where the top
    answer changes to another digit (its points labelled with that digit)."""
    rotation = sweep.kind == "rotation"
    other = sweep.top != sweep.label
    line = go.Scatter(
        x=sweep.values,
        y=sweep.label_probability,
        mode="lines+markers",
        name=_("probability of {digit}").format(digit=sweep.label),
        line=dict(color=charts.BAR_COLOUR),
        marker=dict(
            color=[charts.HIGHLIGHT_COLOUR if o else charts.BAR_COLOUR for o in other], size=7
        ),
        text=[str(t) for t in sweep.top],
        textposition="top center",
        hovertemplate=_("{x}: {digit} at {y}, top answer {top}").format(
            x="%{x}", digit=sweep.label, y="%{y:.0%}", top="%{text}"
        )
        + "<extra></extra>",
    )
    breaks = go.Scatter(
        x=sweep.values[other],
        y=sweep.label_probability[other],
        mode="text",
        text=[str(t) for t in sweep.top[other]],
        textposition="top center",
        showlegend=False,
        textfont=dict(color=charts.HIGHLIGHT_COLOUR),
        hoverinfo="skip",
    )
    return go.Figure(
        [line, breaks],
        layout=dict(
            xaxis=dict(
                title=dict(text=_("rotation (degrees)") if rotation else _("scale (× size)"))
            ),
            yaxis=dict(
                range=[0, 1.12],
                tickformat=".0%",
                title=dict(text=_("probability of {digit}").format(digit=sweep.label)),
            ),
            title=dict(text=_("Turned") if rotation else _("Shrunk or grown")),
            showlegend=False,
            margin=charts.margin(),
            height=300,
            **charts.marked([charts.dotted_line("x", current, _("now"))]),
        ),
    )
