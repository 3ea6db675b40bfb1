"""The weights while training, on Train: each layer's weights as a histogram after each epoch and
how much each layer changed; live during a run, replayed epoch by epoch after it."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from mnist_core.classroom.jobs import JobView
from mnist_core.i18n import _
from mnist_core.presentation import charts
from ui import shared_figures

NOW_COLOUR, START_COLOUR = "#0072B2", "#5A5A5A"  # both at least 4.5:1 on white


def histograms(epoch) -> go.Figure:
    """One histogram per layer: the weights after `epoch`, over those it started with."""
    layers = epoch.layers
    figure = make_subplots(
        rows=1,
        cols=len(layers),
        horizontal_spacing=0.04,
        subplot_titles=[
            _("{layer}: changed {change:.1%}").format(layer=layer.name, change=layer.change)
            for layer in layers
        ],
    )
    for i, layer in enumerate(layers, 1):
        centres = (layer.edges[:-1] + layer.edges[1:]) / 2
        now = go.Bar(
            x=centres,
            y=layer.counts,
            marker_color=NOW_COLOUR,
            name=_("after this epoch"),
            showlegend=i == 1,
            legendgroup="now",
        )
        start = go.Scatter(
            x=centres,
            y=layer.initial_counts,
            mode="lines",
            line_shape="hvh",
            line=dict(color=START_COLOUR, width=1.5, dash="dot"),
            name=_("as initialised"),
            showlegend=i == 1,
            legendgroup="start",
        )
        figure.add_traces([now, start], rows=1, cols=i)
    figure.update_layout(
        height=260,
        margin=dict(l=10, r=10, t=50, b=10),
        bargap=0,
        legend=dict(orientation="h", y=-0.15),
        title=dict(text=_("Weights after epoch {epoch}").format(epoch=epoch.epoch)),
    )
    figure.update_yaxes(showticklabels=False)
    figure.update_annotations(font_size=12)
    return figure


def changes(epochs) -> go.Figure:
    """Each layer's relative change per epoch, on a log scale."""
    figure = go.Figure()
    names = [layer.name for layer in epochs[0].weights.layers]
    for i, name in enumerate(names):
        figure.add_trace(
            go.Scatter(
                x=[e.epoch for e in epochs],
                y=[e.weights.layers[i].change for e in epochs],
                mode="lines+markers",
                name=name,
            )
        )
    figure.update_layout(
        height=260,
        margin=dict(l=10, r=10, t=40, b=10),
        yaxis_type="log",
        title=dict(text=_("How much each layer changed in each epoch (‖ΔW‖ / ‖W‖)")),
        xaxis_title=_("epoch"),
        yaxis_tickformat=".1%",
        yaxis_dtick=1,
        xaxis_dtick=1,
    )
    return figure


def explain() -> None:
    st.caption(
        _(
            "Each layer's weights after every epoch (blue) over how they started (dotted). A "
            "healthy run spreads them out a little and changes each layer by a few percent an "
            "epoch, less and less as it settles. Too high a learning rate shows here first: "
            "changes near or above 100 % an epoch, weights blowing up to a much wider range, or "
            "weights piling up at one value while the loss stops falling (filters that have died "
            "and no longer learn). Too low a rate barely moves them."
        )
    )


def show(view: JobView) -> None:
    """The weights of a run: the newest epoch while it trains, any epoch after it."""
    epochs = [e for e in view.epochs if e.weights is not None and e.weights.layers]
    if not epochs:
        return
    st.markdown(_("**The weights, epoch by epoch**"))
    explain()
    shown = epochs[-1]
    if view.state.finished and len(epochs) > 1:
        number = st.select_slider(
            _("Replay the run: the weights after epoch"),
            [e.epoch for e in epochs],
            value=epochs[-1].epoch,
            key=f"weights_replay_{view.name}",
        )
        shown = next(e for e in epochs if e.epoch == number)
    broken = {layer.name: layer.broken for layer in shown.weights.layers if layer.broken}
    if broken:
        st.warning(
            _(
                "{n:,} weights ({layers}) are no longer numbers (NaN or infinite): the learning "
                "rate is far too high, and the network has stopped learning."
            ).format(n=sum(broken.values()), layers=", ".join(broken)),
            icon=":material/warning:",
        )
    config = charts.CONFIG
    st.plotly_chart(
        shared_figures.figure(view, "weights", lambda: histograms(shown.weights)),
        key=f"weights_{view.name}",
        config=config,
    )
    st.plotly_chart(
        shared_figures.figure(view, "weight changes", lambda: changes(epochs)),
        key=f"weight_changes_{view.name}",
        config=config,
    )
