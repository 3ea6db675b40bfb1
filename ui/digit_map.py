"""The map of digits on screen: 2,000 test digits placed by the network's last hidden features,
with a drawing (on Draw) or the network's mistakes (on Evaluate) marked on it."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core.data import evaluation_indices
from mnist_core.engine.digit_map import (
    MAP_DIGITS,
    DigitMap,
    MapMaker,
    Neighbourhood,
    NoFeaturesError,
    TsneJob,
    hidden_features,
    neighbours,
    place_among,
)
from mnist_core.i18n import _
from mnist_core.presentation import charts
from ui import state, widgets

# One colour per digit, each at least 4.5:1 against the white plot (WCAG AA), after Okabe-Ito
# and Paul Tol's colour-blind-safe sets, darkened where needed. Each cluster is also labelled
# with its digit, so no reading depends on telling two colours apart.
DIGIT_COLOURS = (
    "#0072B2",
    "#B35900",
    "#117733",
    "#AA4499",
    "#000000",
    "#C0362C",
    "#332288",
    "#6B6B00",
    "#882255",
    "#5A5A5A",
)
DRAWING_COLOUR = "#D00000"
TSNE_POLL = 2.0  # seconds between looks at the background t-SNE, until it is done
PCA, TSNE = "pca", "tsne"


@st.cache_resource(show_spinner=False)
def map_maker() -> MapMaker:
    """The server's maps: PCA worked out per model, t-SNE in the background, both kept."""
    return MapMaker()


def _map_of(model) -> DigitMap:
    data = state.mnist()
    indices = evaluation_indices(data, MAP_DIGITS)
    with st.spinner(_("Placing {n:,} test digits on the map…").format(n=len(indices))):
        return map_maker().digit_map(model, data.x_test[indices], data.y_test[indices], indices)


def _hover(digit_map: DigitMap, rows: np.ndarray) -> list[str]:
    return [
        _("a {digit}, read as {answer}").format(digit=label, answer=answer)
        for label, answer in zip(digit_map.labels[rows], digit_map.predicted[rows])
    ]


def _figure(points: np.ndarray, digit_map: DigitMap, mistakes: bool) -> go.Figure:
    """A point per digit, coloured by its label and each cluster labelled with its digit; with
    `mistakes`, the digits read right faded and those read wrong crossed."""
    figure = go.Figure()
    for digit, colour in enumerate(DIGIT_COLOURS):
        rows = np.flatnonzero(digit_map.labels == digit)
        if not len(rows):
            continue
        figure.add_trace(
            go.Scattergl(
                x=points[rows, 0],
                y=points[rows, 1],
                mode="markers",
                name=str(digit),
                marker=dict(color=colour, size=6, opacity=0.15 if mistakes else 0.75),
                customdata=rows,
                text=_hover(digit_map, rows),
                hovertemplate="%{text}<extra></extra>",
            )
        )
        centre = np.median(points[rows], axis=0)
        figure.add_annotation(
            x=centre[0],
            y=centre[1],
            text=f"<b>{digit}</b>",
            showarrow=False,
            font=dict(size=20, color=colour),
            bgcolor="rgba(255,255,255,0.7)",
        )
    if mistakes:
        rows = np.flatnonzero(digit_map.mistakes)
        figure.add_trace(
            go.Scattergl(
                x=points[rows, 0],
                y=points[rows, 1],
                mode="markers",
                name=_("mistakes"),
                marker=dict(
                    symbol="x",
                    size=10,
                    line=dict(width=1, color="#000000"),
                    color=[DIGIT_COLOURS[d] for d in digit_map.labels[rows]],
                ),
                customdata=rows,
                text=_hover(digit_map, rows),
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_layout(
        template="plotly_white",
        height=520,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(title=_("digit"), itemsizing="constant"),
        dragmode="pan",
        xaxis=dict(showticklabels=False, title=None),
        yaxis=dict(showticklabels=False, title=None),
    )
    return figure


def _method(job: TsneJob, key: str) -> str:
    """PCA, or t-SNE once the background has worked it out."""
    ready = job.points is not None
    method = st.radio(
        _("Layout"),
        (PCA, TSNE),
        horizontal=True,
        key=f"{key}_method",
        format_func=lambda m: _("PCA (at once)") if m == PCA else _("t-SNE"),
        disabled=not ready,
        help=_(
            "PCA looks at the features from the two directions in which they spread most: "
            "quick, and a new digit lands by the same rule. t-SNE instead keeps each digit's "
            "nearest neighbours near on the map: clearer clusters, but distances between "
            "clusters mean little, and it takes a while."
        ),
    )
    if job.error is not None:
        st.warning(_("t-SNE failed: {error}").format(error=job.error), icon=":material/warning:")
    elif not ready:
        st.caption(
            _("t-SNE is being worked out in the background; it appears here when it is done.")
        )
    return method if ready else PCA


def _picked_digit(event, digit_map: DigitMap) -> None:
    """The image of a point clicked on the map."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    rows = [int(p["customdata"]) for p in points if p.get("customdata") is not None]
    if not rows:
        st.caption(_("Click a point to see its digit."))
        return
    row = rows[0]
    image = state.mnist().x_test[digit_map.indices[row]]
    label, answer = int(digit_map.labels[row]), int(digit_map.predicted[row])
    caption = _("test digit {index}: a {digit}, read as {answer}").format(
        index=int(digit_map.indices[row]), digit=label, answer=answer
    )
    st.image(
        charts.upscale(image, 4),
        caption=caption,
        width=112,
        alt=_("handwritten {digit}, test digit #{index}, read as {answer}").format(
            digit=label, index=int(digit_map.indices[row]), answer=answer
        ),
    )


def _map(model, key: str, drawing=None, mistakes: bool = False) -> None:
    try:
        digit_map = _map_of(model)
    except NoFeaturesError:
        st.info(_("This model has no final Dense layer, so there are no features to map."))
        return
    job = map_maker().tsne(model, digit_map.features)
    waiting = not job.done.is_set()
    st.fragment(_map_view, run_every=TSNE_POLL if waiting else None)(
        model, digit_map, job, key, drawing, mistakes, waiting
    )


def _map_view(model, digit_map, job, key: str, drawing, mistakes: bool, was_waiting: bool) -> None:
    if job.done.is_set() and was_waiting:
        st.rerun()  # the whole page, so that this stops polling
    method = _method(job, key)
    points = digit_map.pca_points if method == PCA else job.points
    figure = _figure(points, digit_map, mistakes)
    if drawing is not None:
        _mark_drawing(figure, model, digit_map, points, method, drawing)
    chart, picked = st.columns([3, 1])
    with chart:
        event = st.plotly_chart(
            figure,
            key=f"{key}_chart_{method}",
            on_select="rerun",
            selection_mode="points",
            config=charts.CONFIG | {"scrollZoom": True},
        )
    with picked:
        _picked_digit(event, digit_map)


def _mark_drawing(figure, model, digit_map, points, method: str, drawing) -> None:
    image, answer = drawing
    features = hidden_features(model, image)[0]
    near = neighbours(digit_map, features)
    if method == PCA:
        place = digit_map.project(features[np.newaxis])[0]
    else:
        place = place_among(points, near)
    figure.add_trace(
        go.Scatter(
            x=[place[0]],
            y=[place[1]],
            mode="markers+text",
            name=_("your drawing"),
            text=[_("your {digit}").format(digit=answer)],
            textposition="top center",
            textfont=dict(size=16, color=DRAWING_COLOUR),
            marker=dict(
                symbol="star", size=22, color=DRAWING_COLOUR, line=dict(width=2, color="#000000")
            ),
            hoverinfo="skip",
        )
    )
    st.markdown(drawing_sentence(answer, near))


def drawing_sentence(answer: int, near: Neighbourhood) -> str:
    """Where a drawing read as `answer` lands, in words."""
    k = len(near.labels)
    if near.near is None:
        return _(
            "Your {answer} lands among the {among}s: all {k} nearest test digits are {among}s."
        ).format(answer=answer, among=near.among, k=k)
    return _(
        "Your {answer} lands among the {among}s, near the {near}s: of the {k} test digits "
        "nearest it in the network's features, {count} are {among}s."
    ).format(answer=answer, among=near.among, near=near.near, k=k, count=round(near.share * k))


def _explain() -> None:
    st.caption(
        _(
            "Each point is one of {n:,} test digits, placed by what the network's last hidden "
            "layer makes of it (the numbers its final layer weighs into the ten answers), and "
            "coloured by what the digit really is. Digits the network finds alike lie close: "
            "tight, separate clusters mean it tells the digits apart easily; points in another "
            "digit's cluster are digits it finds hard. Hover over a point for its digit; click "
            "one to see it."
        ).format(n=MAP_DIGITS)
    )


def draw_section(model, image: np.ndarray, answer: int) -> None:
    """On Draw: the map, with the drawing a marked point of its own (in an expander that is
    worked out only while open)."""
    if place := widgets.open_expander(
        _("Where does your digit land?"), ":material/scatter_plot:", "draw_map"
    ):
        with place:
            _explain()
            _map(model, "draw_map", drawing=(image, answer))


def evaluate_section(model) -> None:
    """On Evaluate: the map, with the network's mistakes highlighted on request."""
    st.subheader(_("A map of digits"))
    _explain()
    mistakes = st.toggle(
        _("Highlight the mistakes"),
        key="eval_map_mistakes",
        help=_("Fade the digits it reads right, and mark each one it reads wrong with a cross."),
    )
    _map(model, "eval_map", mistakes=mistakes)
