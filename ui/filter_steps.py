"""How a filter computes, on Draw: one value of one feature map worked out step by step on the
user's own drawing and model, in numbers and in plain words."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core.engine import convolution_steps
from mnist_core.i18n import _
from mnist_core.presentation import charts
from ui import state, widgets

ROW, COL, LAYER, FILTER, CHANNEL = (
    "steps_row",
    "steps_col",
    "steps_layer",
    "steps_filter",
    "steps_channel",
)
WINDOW_COLOUR = "#D00000"
# Negative blue, zero white, positive red.
SIGNED = [[0.0, "#2166AC"], [0.5, "#F7F7F7"], [1.0, "#B2182B"]]


def _maps(model, layer_name: str, image: np.ndarray):
    layer = next(
        layer for layer in convolution_steps.conv_layers(model) if layer.name == layer_name
    )
    return convolution_steps.layer_maps(model, layer, image)


def _grid(values: np.ndarray, title: str, colours: str, signed: bool, mask=None) -> go.Figure:
    """A small grid of numbers, each cell coloured by its value."""
    shown = np.where(mask, values, np.nan) if mask is not None else values
    limit = float(np.nanmax(np.abs(shown))) if np.isfinite(shown).any() else 1.0
    limit = limit or 1.0
    figure = go.Figure(
        charts.labelled_heatmap(
            [["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in shown],
            z=shown,
            colorscale=colours,
            zmin=-limit if signed else 0,
            zmax=limit,
            showscale=False,
            textfont=dict(size=11),
            hovertemplate="%{z:.4f}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    side = values.shape[0]
    figure.update_layout(
        title=dict(text=title, font=dict(size=13)),
        height=min(80 + 34 * side, 320),
        margin=dict(l=5, r=5, t=30, b=5),
        plot_bgcolor="#FFFFFF",
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"),
    )
    return figure


def _map_with_box(values: np.ndarray, box: tuple[int, int, int, int], title: str) -> go.Figure:
    """A map (input channel or feature map), with a rectangle (top, left, height, width)."""
    figure = go.Figure(
        go.Heatmap(
            z=values,
            colorscale="Greys_r",
            showscale=False,
            hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>",
        )
    )
    top, left, height, width = box
    figure.add_shape(
        type="rect",
        x0=left - 0.5,
        x1=left + width - 0.5,
        y0=top - 0.5,
        y1=top + height - 0.5,
        line=dict(color=WINDOW_COLOUR, width=3),
    )
    figure.update_layout(
        title=dict(text=title, font=dict(size=13)),
        height=260,
        margin=dict(l=5, r=5, t=30, b=5),
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"),
    )
    return figure


def _clamp(key: str, high: int) -> None:
    """Keep a slider's remembered value within a new range (a layer with smaller maps)."""
    if st.session_state.get(key, 0) > high:
        st.session_state[key] = high


def _step(rows: int, cols: int, by: int) -> None:
    """Move the position one place along the rows (wrapping), as reading a page."""
    place = (st.session_state.get(ROW, 0) * cols + st.session_state.get(COL, 0) + by) % (
        rows * cols
    )
    st.session_state[ROW], st.session_state[COL] = divmod(place, cols)


def _controls(layers) -> tuple[str, int, int]:
    names = [layer.name for layer in layers]
    left, middle, right = st.columns(3)
    name = left.selectbox(_("Conv layer"), names, key=LAYER)
    layer = layers[names.index(name)]
    _clamp(FILTER, layer.filters - 1)
    _clamp(CHANNEL, layer.channels - 1)
    f = middle.slider(
        _("Filter"), 0, max(layer.filters - 1, 1), key=FILTER, disabled=layer.filters == 1
    )
    channel = 0
    if layer.channels > 1:
        channel = right.slider(
            _("Input channel shown"),
            0,
            layer.channels - 1,
            key=CHANNEL,
            help=_(
                "This layer's input has {n} channels (the previous layer's feature maps). The "
                "filter has weights for each; one channel's products are shown, and the sums "
                "of all are added up."
            ).format(n=layer.channels),
        )
    return name, min(f, layer.filters - 1), channel


def _position(rows: int, cols: int) -> tuple[int, int]:
    # First in the middle of the map, where a drawing's strokes are, not in its empty corner.
    st.session_state.setdefault(ROW, rows // 2)
    st.session_state.setdefault(COL, cols // 2)
    _clamp(ROW, rows - 1)
    _clamp(COL, cols - 1)
    back, row_place, col_place, forward = st.columns([1, 3, 3, 1], vertical_alignment="bottom")
    back.button(
        _("Back"),
        icon=":material/chevron_left:",
        key="steps_back",
        on_click=_step,
        args=(rows, cols, -1),
        help=_("The previous position"),
    )
    row = row_place.slider(_("Row"), 0, max(rows - 1, 1), key=ROW, disabled=rows == 1)
    col = col_place.slider(_("Column"), 0, max(cols - 1, 1), key=COL, disabled=cols == 1)
    forward.button(
        _("Next"),
        icon=":material/chevron_right:",
        key="steps_forward",
        on_click=_step,
        args=(rows, cols, 1),
        help=_("The next position: step on to see the feature map fill in"),
    )
    return min(row, rows - 1), min(col, cols - 1)


def _words(step, layer, channel: int) -> str:
    k, channels = layer.kernel_size, layer.channels
    lines = [
        _(
            "The filter's {k}×{k} weights lie over a {k}×{k} window of its input (red box). Each "
            "input value is multiplied by the weight on top of it, and the {n} products add up "
            "to **{sum:.3f}** in this channel."
        ).format(k=k, n=k * k, sum=float(step.channel_sums[channel]))
    ]
    if not step.inside.all():
        lines.append(
            _("Part of the window hangs over the edge: 'same' padding counts those cells as 0.")
        )
    if channels > 1:
        lines.append(
            _(
                "The input has {n} channels and the filter a set of weights for each: the same "
                "is done in every channel, and the {n} sums add up to **{total:.3f}**."
            ).format(n=channels, total=step.total)
        )
    lines.append(
        _("Plus the filter's bias, **{bias:.3f}**, gives **{z:.3f}**.").format(
            bias=step.bias, z=step.total + step.bias
        )
    )
    if step.norm is not None:
        gamma, beta, mean, variance = step.norm
        lines.append(
            _(
                "Batch normalisation rescales it with what it learned of this filter's values: "
                "({z:.3f} − {mean:.3f}) ÷ √{variance:.3f} × {gamma:.3f} + {beta:.3f} = "
                "**{normal:.3f}**."
            ).format(
                z=step.total + step.bias,
                mean=mean,
                variance=variance,
                gamma=gamma,
                beta=beta,
                normal=step.before_activation,
            )
        )
    explained = {
        "relu": _("relu keeps a positive number and turns a negative one into 0"),
        "elu": _("elu keeps a positive number and squashes a negative one towards −1"),
        "gelu": _("gelu keeps a large positive number and dampens small and negative ones"),
        "tanh": _("tanh squashes any number into −1 to 1"),
        "sigmoid": _("sigmoid squashes any number into 0 to 1"),
    }.get(step.activation, step.activation)
    lines.append(
        _(
            "The activation ({how}) makes it **{value:.3f}**: the value at row {row}, column "
            "{col} of feature map {f}."
        ).format(how=explained, value=step.value, row=step.row, col=step.col, f=step.filter)
    )
    return "\n\n".join(lines)


def _pooling(maps, step) -> None:
    pool = convolution_steps.pool_step(maps, step.row, step.col, step.filter)
    if maps.pooled is None:
        return
    if pool is None:
        st.caption(_("Pooling drops this last odd row or column of the map."))
        return
    values = ", ".join(f"{v:.3f}" for v in pool.window.ravel())
    if pool.kind == "max":
        text = _(
            "**Max pooling** then keeps the largest value of each 2×2 square: of {values}, it "
            "keeps **{value:.3f}**, at row {row}, column {col} of the pooled map."
        )
    else:
        text = _(
            "**Average pooling** then keeps the mean of each 2×2 square: of {values}, that is "
            "**{value:.3f}**, at row {row}, column {col} of the pooled map."
        )
    st.markdown(text.format(values=values, value=pool.value, row=pool.row, col=pool.col))


def _filling(maps, step) -> go.Figure:
    """The feature map filled in up to this position, reading row by row."""
    feature = maps.maps[:, :, step.filter].astype(np.float32)
    rows, cols = feature.shape
    done = np.arange(rows * cols).reshape(rows, cols) <= step.row * cols + step.col
    figure = _map_with_box(
        np.where(done, feature, np.nan),
        (step.row, step.col, 1, 1),
        _("Feature map {f}, filled in up to here").format(f=step.filter),
    )
    # The whole map's place, the part not worked out yet grey.
    figure.update_layout(plot_bgcolor="#BBBBBB")
    figure.update_xaxes(range=[-0.5, cols - 0.5])
    figure.update_yaxes(range=[rows - 0.5, -0.5], autorange=False)
    return figure


def _section(model, image: np.ndarray) -> None:
    layers = convolution_steps.conv_layers(model)
    if not layers:
        st.info(_("This model has no conv layers: there is no filter to follow."))
        return
    name, f, channel = _controls(layers)
    maps = state.remembered("filter_steps", _maps, model, name, image)
    rows, cols, _filters = maps.maps.shape
    row, col = _position(rows, cols)
    step = convolution_steps.conv_step(maps, row, col, f)
    k = maps.layer.kernel_size
    where, window, weights, products = st.columns([3, 2, 2, 2])
    where.plotly_chart(
        _map_with_box(
            maps.inputs[:, :, channel],
            (step.top, step.left, k, k),
            _("Input channel {c}").format(c=channel)
            if maps.layer.channels > 1
            else _("The input: your drawing"),
        ),
        key="steps_input",
        config=charts.CONFIG,
    )
    window.plotly_chart(
        _grid(step.windows[:, :, channel], _("Window"), "Greys", signed=False, mask=step.inside),
        key="steps_window",
        config=charts.CONFIG,
    )
    weights.plotly_chart(
        _grid(step.weights[:, :, channel], _("× weights"), SIGNED, signed=True),
        key="steps_weights",
        config=charts.CONFIG,
    )
    products.plotly_chart(
        _grid(step.products[:, :, channel], _("= products"), SIGNED, signed=True),
        key="steps_products",
        config=charts.CONFIG,
    )
    words, filling = st.columns([3, 2])
    with words:
        st.markdown(_words(step, maps.layer, channel))
        _pooling(maps, step)
    filling.plotly_chart(_filling(maps, step), key="steps_filling", config=charts.CONFIG)


def draw_section(model, image: np.ndarray) -> None:
    """On Draw: an expander, worked out only while open, following one filter over the drawing."""
    if place := widgets.open_expander(
        _("How does a filter compute?"), ":material/calculate:", "draw_steps"
    ):
        with place:
            st.caption(
                _(
                    "Pick a conv layer, one of its filters and a place in its feature map: here "
                    "is how that one value is computed from your drawing, in numbers. Blue "
                    "weights and products are negative, red ones positive. Step on with ▶."
                )
            )
            st.fragment(_section)(model, image)
