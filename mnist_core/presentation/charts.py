"""The dashboard's Plotly figures of data, training and evaluation, image tiles, and the style
every chart shares (plain data in, figures out; no Streamlit). Draw's and Compare's own charts
are in `draw_charts` and `compare_charts`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, sample_colorscale, unlabel_rgb
from plotly.subplots import make_subplots

from mnist_core.data import NUM_CLASSES
from mnist_core.i18n import _

if TYPE_CHECKING:  # annotations only: the Data page's charts need no TensorFlow
    from mnist_core.engine.progress import BatchProgress, EpochProgress

# Okabe and Ito's blue and vermilion: told apart with any colour vision, and at least 3:1
# against the white page (WCAG's contrast for parts of graphics).
BLUE, ORANGE = "#0072b2", "#d55e00"
TRAINING_COLOUR = BLUE  # digits the model learns from
HELD_OUT_COLOUR = ORANGE  # digits it never learns from: validation and test
BAR_COLOUR, HIGHLIGHT_COLOUR = BLUE, ORANGE  # plain bars, and the one that wins
DIGITS = [str(d) for d in range(NUM_CLASSES)]  # category labels for the x axes


def margin(top: int = 40) -> dict:
    """Tight margins, with room for a title of `top` px."""
    return dict(l=10, r=10, t=top, b=10)


LAYOUT = dict(margin=margin(), height=320)
# Pages show the figures without Plotly's toolbar: on a phone it covered their titles.
CONFIG = {"displayModeBar": False}
# Labels on bars: hidden rather than shrunk below 10 px (hovering still tells the value).
READABLE_LABELS = dict(uniformtext=dict(minsize=10, mode="hide"))


BLACK, WHITE = "#000000", "#ffffff"
CLEAR = [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]]


def labelled_heatmap(text: list[list[str]], **heatmap) -> list[go.Heatmap]:
    """A heatmap with `text` in its cells, each label black or white, whichever has more
    contrast with its cell (at least 4.58:1, WCAG AA). Plotly writes all of a heatmap's text
    in one colour, or picks by brightness and leaves mid-tones under 4.5:1: so the heatmap
    writes the black labels and a see-through twin on top the white ones. Each writes the other's
    as spaces, so that both size their text alike."""
    painted = go.Heatmap(**heatmap, texttemplate="%{text}").update(textfont_color=BLACK)
    z = np.asarray(painted.z, dtype=float)
    low = np.nanmin(z) if painted.zmin is None else painted.zmin
    high = np.nanmax(z) if painted.zmax is None else painted.zmax
    at = np.nan_to_num(np.clip((z - low) / ((high - low) or 1), 0, 1)).ravel().tolist()
    black, white = hex_to_rgb(BLACK), hex_to_rgb(WHITE)
    cells = sample_colorscale([list(stop) for stop in painted.colorscale], at)  # names resolved
    dark = np.array(
        [contrast(rgb, white) > contrast(rgb, black) for rgb in map(unlabel_rgb, cells)],
        dtype=bool,
    ).reshape(z.shape)

    def only(keep: np.ndarray) -> list[list[str]]:
        return [
            [label if kept else " " * len(label) for label, kept in zip(row, kept_row)]
            for row, kept_row in zip(text, keep)
        ]

    painted.text = only(~dark)
    twin = {
        key: value
        for key, value in heatmap.items()
        if key in ("x", "y", "z", "xgap", "ygap", "textfont", "zmin", "zmax")
    }
    return [
        painted,
        go.Heatmap(
            **twin,
            text=only(dark),
            texttemplate="%{text}",
            colorscale=CLEAR,
            showscale=False,
            hoverinfo="skip",
        ).update(textfont_color=WHITE),
    ]


def luminance(rgb: tuple[float, ...]) -> float:
    """WCAG's relative luminance of an sRGB colour (0-255 channels)."""
    c = [v / 255 for v in rgb]
    c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def contrast(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    """WCAG's contrast ratio of two sRGB colours (0-255 channels)."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement (grey or colour), so small digits stay crisp on screen."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def tile(images: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Lay (n, h, w) images out in a grid with `pad` px of gaps, each scaled to [0, 1]."""
    n, h, w = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), 0.25, np.float32)
    for i, image in enumerate(images.astype(np.float32)):
        low, high = image.min(), image.max()
        scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
        r, c = divmod(i, cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = scaled
    return out


def class_distribution(y_train: np.ndarray, y_test: np.ndarray) -> go.Figure:
    """Digits per class in train and test."""
    fig = go.Figure(
        [
            go.Bar(
                name=_("train"),
                x=DIGITS,
                y=np.bincount(y_train, minlength=NUM_CLASSES),
                marker_color=TRAINING_COLOUR,
            ),
            go.Bar(
                name=_("test"),
                x=DIGITS,
                y=np.bincount(y_test, minlength=NUM_CLASSES),
                marker_color=HELD_OUT_COLOUR,
            ),
        ]
    )
    fig.update_xaxes(type="category")
    fig.update_layout(
        barmode="group", title=_("Digits per class"), xaxis_title=_("digit"), **LAYOUT
    )
    fig.update_yaxes(title=_("images"))
    return fig


def pixel_heatmap(image: np.ndarray, title: str) -> go.Figure:
    """A 28x28 image as a heatmap with each pixel's value written in it."""
    fig = go.Figure(
        labelled_heatmap(
            [[str(v) for v in row] for row in image.tolist()],
            z=image,
            textfont=dict(size=10),
            colorscale="gray",
            showscale=False,
            hovertemplate=_("row %{y}, col %{x}: %{z}") + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(title=title, margin=margin(), height=620)
    return fig


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """Exponential moving average, as TensorBoard smooths noisy curves."""
    out, last = [], None
    for v in values:
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return out


def training_curves(batches: list[BatchProgress], epochs: list[EpochProgress]) -> go.Figure:
    """Loss and accuracy: per batch (window means) and per epoch, train against validation."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Loss"), _("Accuracy")))
    x_batch = [b.epoch - 1 + b.batch / b.batches for b in batches]
    x_epoch = [e.epoch - (0 if not e.partial else 0.5) for e in epochs]
    train_line = dict(color=TRAINING_COLOUR)
    for col, key in ((1, "loss"), (2, "accuracy")):
        show = col == 1
        raw = [getattr(b, key) for b in batches]
        fig.add_scatter(
            x=x_batch,
            y=raw,
            name=_("train (per batch)"),
            mode="lines",
            line=train_line | dict(width=1),
            opacity=0.25,
            legendgroup="r",
            showlegend=False,
            hoverinfo="skip",
            row=1,
            col=col,
        )
        fig.add_scatter(
            x=x_batch,
            y=smooth(raw),
            name=_("train (per batch, smoothed)"),
            mode="lines",
            line=train_line | dict(width=1.5, dash="dot"),
            legendgroup="b",
            showlegend=show,
            row=1,
            col=col,
        )
        fig.add_scatter(
            x=x_epoch,
            y=[getattr(e, key) for e in epochs],
            name=_("train (epoch)"),
            mode="lines+markers",
            line=train_line,
            legendgroup="e",
            showlegend=show,
            row=1,
            col=col,
        )
        val = [getattr(e, f"val_{key}") for e in epochs]
        if any(v is not None for v in val):
            fig.add_scatter(
                x=x_epoch,
                y=val,
                name=_("validation (epoch)"),
                mode="lines+markers",
                line=dict(color=HELD_OUT_COLOUR),
                legendgroup="v",
                showlegend=show,
                row=1,
                col=col,
            )
    fig.update_xaxes(title=_("epoch"), rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=-0.25), uirevision="keep", **LAYOUT)
    return fig


def runs_overlay(runs: dict[str, list[EpochProgress]]) -> go.Figure:
    """Validation accuracy per epoch of several runs, for comparison."""
    fig = go.Figure()
    for name, epochs in runs.items():
        fig.add_scatter(
            x=[e.epoch for e in epochs],
            y=[e.val_accuracy for e in epochs],
            mode="lines+markers",
            name=name,
        )
    fig.update_layout(title=_("Validation accuracy by run"), **LAYOUT)
    fig.update_xaxes(title=_("epoch"))
    fig.update_yaxes(title=_("validation accuracy"), tickformat=".1%")
    return fig


def per_class_accuracy(rows: list[dict]) -> go.Figure:
    """Accuracy per digit as bars, with counts on hover."""
    fig = go.Figure(
        go.Bar(
            x=[str(r["digit"]) for r in rows],
            y=[r["accuracy"] for r in rows],
            customdata=[[r["correct"], r["count"]] for r in rows],
            hovertemplate=_("digit %{x}: %{y:.2%} (%{customdata[0]} of %{customdata[1]})")
            + "<extra></extra>",
            text=[f"{r['accuracy']:.1%}" for r in rows],
            marker_color=BAR_COLOUR,
        )
    )
    low = min((r["accuracy"] for r in rows if r["count"]), default=0)
    fig.update_yaxes(range=[max(0, low - 0.05), 1], tickformat=".0%", title=_("accuracy"))
    fig.update_xaxes(type="category")
    fig.update_layout(
        title=_("Accuracy per digit"), xaxis_title=_("digit"), **LAYOUT, **READABLE_LABELS
    )
    return fig


def confusion_heatmap(matrix: np.ndarray, normalize: bool) -> go.Figure:
    """True digit against predicted digit; clickable cells (an invisible marker sits on each)."""
    values = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    text = [[f"{v:.1%}" if normalize else str(v) for v in row] for row in values]
    digits = list(range(NUM_CLASSES))
    fig = go.Figure(
        labelled_heatmap(
            text,
            z=values,
            x=digits,
            y=digits,
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip",
        )
    )
    # Plotly heatmaps cannot be selected by a click; scatter markers can, if they answer the
    # pointer (a trace that skips hovering gets no clicks either).
    ys, xs = np.mgrid[0:NUM_CLASSES, 0:NUM_CLASSES]
    fig.add_scatter(
        x=xs.ravel(),
        y=ys.ravel(),
        customdata=matrix.ravel(),
        mode="markers",
        hovertemplate=_("true %{y}, predicted %{x}: %{customdata} images") + "<extra></extra>",
        showlegend=False,
        marker=dict(size=28, opacity=0, symbol="square"),
    )
    fig.update_xaxes(title=_("predicted digit"), dtick=1, side="top", range=[-0.5, 9.5])
    fig.update_xaxes(constrain="domain")
    fig.update_yaxes(title=_("true digit"), dtick=1, range=[9.5, -0.5], scaleanchor="x")
    fig.update_yaxes(constrain="domain")
    fig.update_layout(margin=margin(top=60), height=520, clickmode="event+select")
    return fig


def dotted_line(axis: str, at: float, text: str) -> tuple[dict, dict]:
    """A dotted line across the plot at `at` on `axis` ("x": upright, "y": level) and its label,
    as `add_vline`/`add_hline` make them; built in one go with the figure, Draw's charts take
    3-8 ms of CPU instead of 22-26 ms (the same JSON)."""
    across = "y" if axis == "x" else "x"
    line = {
        "type": "line",
        "line": {"dash": "dot"},
        f"{axis}ref": axis,
        f"{axis}0": at,
        f"{axis}1": at,
        f"{across}ref": f"{across} domain",
        f"{across}0": 0,
        f"{across}1": 1,
    }
    label = {
        "text": text,
        "showarrow": False,
        axis: at,
        f"{axis}ref": axis,
        across: 1,
        f"{across}ref": f"{across} domain",
    }
    label |= (
        {"xanchor": "left", "yanchor": "top"}
        if axis == "x"
        else {"xanchor": "right", "yanchor": "bottom"}
    )
    return line, label


def marked(marks: list[tuple[dict, dict]]) -> dict:
    """Layout entries for `dotted_line`s."""
    return dict(shapes=[line for line, _label in marks], annotations=[a for _l, a in marks])


def digit_learning(epochs: list[EpochProgress]) -> go.Figure:
    """Validation accuracy of each digit after each epoch: which digits are learned first."""
    with_val = [e for e in epochs if e.val_confusion is not None]
    z = np.array([e.val_per_digit for e in with_val]).T if with_val else np.zeros((10, 0))
    fig = go.Figure(
        labelled_heatmap(
            [[f"{v:.0%}" for v in row] for row in z],
            z=z,
            x=[e.epoch for e in with_val],
            y=DIGITS,
            zmin=0,
            zmax=1,
            colorscale="Viridis",  # lighter is better: no red against green to tell apart
            colorbar=dict(tickformat=".0%", len=0.8),
            hovertemplate=_("epoch %{x}, digit %{y}: %{z:.1%} right") + "<extra></extra>",
        )
    )
    fig.update_xaxes(title=_("epoch"), type="category")
    fig.update_yaxes(title=_("digit"), autorange="reversed", type="category")
    fig.update_layout(title=_("Validation accuracy per digit"), margin=margin(), height=360)
    return fig


MET_COLOUR, MISSED_COLOUR = "#1a7f37", "#b3261e"  # green and red that pass 4.5:1 on white


def lesson_runs(
    names: list[str],
    parameters: list[int],
    accuracies: list[float],
    met: list[bool],
    goal_accuracy: float | None,
    goal_params: int | None,
) -> go.Figure:
    """Every run of a lesson as a dot, test accuracy against parameters; the goal as dotted
    lines. Met and missed differ in shape as well as colour."""
    fig = go.Figure()
    for reached, label, colour, symbol in (
        (True, _("goal met"), MET_COLOUR, "circle"),
        (False, _("goal not met"), MISSED_COLOUR, "x"),
    ):
        rows = [i for i, m in enumerate(met) if m is reached]
        fig.add_trace(
            go.Scatter(
                x=[parameters[i] for i in rows],
                y=[accuracies[i] for i in rows],
                text=[names[i] for i in rows],
                mode="markers",
                name=label,
                marker=dict(color=colour, symbol=symbol, size=11),
                hovertemplate="%{text}: %{y:.2%}, %{x:,} " + _("parameters") + "<extra></extra>",
            )
        )
    marks = []
    if goal_accuracy is not None:
        marks.append(
            dotted_line(
                "y", goal_accuracy, _("goal: {goal:.4g} %").format(goal=100 * goal_accuracy)
            )
        )
    if goal_params is not None:
        marks.append(dotted_line("x", goal_params, _("goal: {goal:,}").format(goal=goal_params)))
    fig.update_layout(
        **LAYOUT,
        **marked(marks),
        title=_("Every run of this lesson"),
        xaxis=dict(title=_("parameters"), rangemode="tozero"),
        yaxis=dict(title=_("test accuracy"), tickformat=".0%"),
        legend=dict(orientation="h", y=-0.25),
    )
    fig.update_layout(margin=margin(50), height=380)
    return fig
