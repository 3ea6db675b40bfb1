"""Draw: write a digit with a finger or the mouse (or upload a picture, or take a photo) and
watch the model read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.engine import transforms
from mnist_core.engine.model import feature_maps, first_layer_filters, predict
from mnist_core.engine.preprocess import PreprocessSteps, naive_resize, pad_square
from mnist_core.i18n import _
from mnist_core.presentation import charts, draw_charts
from ui import (
    digit_map,
    draw_inputs,
    filter_steps,
    handwriting,
    state,
    streamlit_workarounds,
    take_home,
    widgets,
)
from ui.draw_settings import ReaderSettings, reader_settings

if TYPE_CHECKING:
    import keras
    from streamlit.delta_generator import DeltaGenerator

streamlit_workarounds.reroute_direct_page_run()

TILE = 112  # px: a 28×28 image shown 4× larger


def prediction(model: keras.Model, image: np.ndarray, threshold: float) -> int:
    """The predicted digit (or "not sure"), its confidence and the ten probabilities."""
    probs = predict(model, image)[0]
    digit, confidence = int(probs.argmax()), float(probs.max())
    sure = confidence >= threshold
    row = st.container(horizontal=True)  # side by side on a phone too: columns would stack
    row.metric(_("Prediction"), digit if sure else _("not sure"), border=True)
    row.metric(
        _("Confidence"),
        f"{confidence:.0%}",
        border=True,
        help=None
        if sure
        else _("Best guess {digit}, below {threshold}").format(
            digit=digit, threshold=f"{threshold:.0%}"
        ),
    )
    if not sure:
        st.warning(
            _("Not sure: the best guess is {digit}, at {confidence}.").format(
                digit=digit, confidence=f"{confidence:.0%}"
            ),
            icon=":material/help:",
        )
    st.html(draw_charts.probability_bars(probs, threshold))
    return digit


def preprocessing(steps: PreprocessSteps, origin: str, bent: np.ndarray | None) -> None:
    """Each step from the input to the 28×28 image the model sees (bent, if it is)."""
    st.markdown(
        _("**What the model sees** ({origin}: crop, scale to 20 px, centre in 28×28)").format(
            origin=origin
        )
    )
    images = [steps.ink, steps.cropped, steps.scaled, charts.upscale(steps.centred, 4)]
    captions = [_("input"), _("cropped to the ink"), _("longer side 20 px"), _("centred: 28×28")]
    alts = [
        _("{origin}, as the model gets it"),
        _("{origin}, cropped to its ink"),
        _("{origin}, shrunk so its longer side is 20 pixels"),
        _("{origin}, centred in 28×28: what the network reads"),
    ]
    if bent is not None:
        images.append(charts.upscale(bent, 4))
        captions.append(_("bent: what it reads"))
        alts.append(_("{origin}, bent by the sliders: what the network reads"))
    st.image(
        [pad_square(np.clip(image, 0, 1)) for image in images],
        caption=captions,
        width=TILE,
        output_format="PNG",
        alt=[alt.format(origin=origin) for alt in alts],
    )


def breaking_points(model: keras.Model, image: np.ndarray, bends: dict) -> None:
    """The answer's probability across every turn and every size of the drawing."""
    st.caption(
        _(
            "The same drawing turned through every angle and shrunk or grown through every size, "
            "all read at once: the line is how sure the network stays of its first answer; orange "
            "points are where another digit wins (its number written above)."
        )
    )
    for column, kind, now in zip(
        st.columns(2), ("rotation", "scale"), (bends["rotation"], bends["factor"])
    ):
        sweep = state.remembered(f"sweep_{kind}", transforms.sweep, model, image, kind)
        column.plotly_chart(
            draw_charts.sweep_chart(sweep, now), width="stretch", config=charts.CONFIG
        )
        low, high = sweep.breaking_point()
        unit = "°" if kind == "rotation" else "×"
        edges = [f"{v:g}{unit}" for v in (low, high) if v is not None]
        column.caption(
            _("It stops reading {digit} at {edges}.").format(
                digit=sweep.label, edges=_(" and at ").join(edges)
            )
            if edges
            else _("It reads {digit} across the whole range.").format(digit=sweep.label)
        )


def naive_comparison(model: keras.Model, image: np.ndarray, digit: int, drawing: bool) -> None:
    """What squeezing the whole canvas to 28×28, without centring, would have predicted."""
    plain = naive_resize(image, drawing=drawing)
    plain_probs = predict(model, plain)[0]
    st.image(
        charts.upscale(plain, 4),
        caption=_("naive: the whole canvas squeezed to 28×28"),
        width=TILE,
        output_format="PNG",
        alt=_("the whole canvas squeezed to 28×28, without cropping or centring"),
    )
    st.markdown(
        _(
            "A naive resize would predict **{naive}** ({confidence}), against **{digit}** with "
            "MNIST-style centring."
        ).format(
            naive=int(plain_probs.argmax()), confidence=f"{plain_probs.max():.0%}", digit=digit
        )
    )


def inside_the_network(model: keras.Model, centred: np.ndarray) -> None:
    """Feature maps of every conv layer for this input, and the first layer's filters."""
    st.markdown(
        _(
            "Each conv layer turns the image into *feature maps*: one per filter, bright where "
            "the filter found its pattern. The first layer's filters are small stroke detectors."
        )
    )
    for name, maps in feature_maps(model, centred):
        channels = np.moveaxis(maps, -1, 0)
        st.image(
            charts.upscale(charts.tile(channels, cols=16), 3 if maps.shape[0] > 14 else 6),
            caption=_("{layer}: {n} maps of {height}×{width}").format(
                layer=name, n=channels.shape[0], height=maps.shape[0], width=maps.shape[1]
            ),
            output_format="PNG",
            alt=_("the {n} feature maps of layer {layer} for your digit, in a grid").format(
                n=channels.shape[0], layer=name
            ),
        )
    filters = first_layer_filters(model)
    if filters is None:
        st.caption(_("This model has no conv layers to look inside."))
        return
    k = filters.shape[1]
    st.image(
        charts.upscale(charts.tile(filters, cols=16), 12),
        caption=_("First layer: {n} learned {k}×{k} filters").format(n=len(filters), k=k),
        output_format="PNG",
        alt=_("the first layer's {n} filters of {k}×{k} weights, in a grid").format(
            n=len(filters), k=k
        ),
    )


@dataclass(frozen=True)
class ReaderPlaces:
    """Where `reading` writes: the canvas, the answer under it, and the details beside."""

    canvas: DeltaGenerator
    answer: DeltaGenerator
    details: DeltaGenerator


@st.fragment
def reader(entry: ModelEntry) -> None:
    """The canvas, its settings and everything read from the drawing. A fragment: a slider
    reruns this part only, not the sidebar, the explainer or the handwriting set. What does not
    change with a stroke (the upload, the settings, the keep buttons) is made here, not in
    `reading`, so a stroke re-sends only the canvas and what is read from it."""
    st.session_state.setdefault("canvas_generation", 0)
    # Two rows of two columns, which a narrow screen stacks in this order: on a phone the answer
    # comes right under the canvas, and the settings and the details follow.
    source, result = st.columns([2, 3], gap="medium")
    settings_column, more = st.columns([2, 3], gap="medium")
    with source:
        canvas_place, picture, name = draw_inputs.sources()
    with settings_column:
        settings = reader_settings()
    with result:
        answer_place = st.container()
        # A click asks `reading` to keep what it reads in the click's own run: never a drawing
        # of an earlier run. A stroke's rerun of `reading` gets this same request back, answered
        # and so emptied: it keeps nothing unasked.
        keep_request = handwriting.add_buttons(drawn=not name)
    places = ReaderPlaces(canvas_place, answer_place, more.container())
    reading(entry, places, settings, keep_request, picture, name)


@st.fragment
def reading(
    entry: ModelEntry,
    places: ReaderPlaces,
    settings: ReaderSettings,
    keep_request: dict[str, int],
    picture: np.ndarray | None,
    name: str,
) -> None:
    """The canvas and everything read from it (or from the upload), with the reader's settings.
    A fragment inside the reader: a stroke reruns only this, keeping the arguments it was last
    called with (each change to them reruns the reader, and so this with the new values)."""
    with places.canvas:
        drawing = draw_inputs.canvas(settings.stroke)
    # Written into on every run, even one with nothing to show: a stroke's run may write into a
    # container made outside it only if the reader's run that made it saw this one write there.
    answer, details = places.answer.container(), places.details.container()
    with answer:
        to_read = draw_inputs.digit_to_read(drawing, picture, name)
    if to_read is None:
        handwriting.keep_if_asked(keep_request, None)
        st.stop()  # not an if around the rest: st.stop keeps the state of the sections below
    steps, image, drawn = to_read
    handwriting.keep_if_asked(
        keep_request, image, drawn, after_add=draw_inputs.clear if drawn else None
    )
    model = entry.model  # once: each use of the default's would open and close a spinner
    with answer:
        bent = transforms.bend(steps.centred, **settings.bends)
        digit = prediction(model, bent, settings.threshold)
    with details:
        origin = _("your drawing") if drawn else name
        preprocessing(steps, origin, bent if settings.bent else None)
        st.markdown(_("**Why {digit}?**").format(digit=digit))
        widgets.evidence_map(model, bent, digit, _("evidence for {digit}").format(digit=digit))
        if settings.naive:
            naive_comparison(model, image, digit, drawing=drawn)

    # Computed only while open: nothing is worked out for a closed section. Both start closed: on
    # every stroke, the sweeps and their two charts cost server and browser more than all above.
    if sweeps := widgets.open_expander(
        _("Where does it break?"), ":material/rotate_right:", "draw_sweeps"
    ):
        with sweeps:
            breaking_points(model, steps.centred, settings.bends)
    if inside := widgets.open_expander(
        _("Look inside the network"), ":material/visibility:", "draw_inside"
    ):
        with inside:
            inside_the_network(model, bent)
    filter_steps.draw_section(model, bent)
    digit_map.draw_section(model, bent, digit)


st.title(_("Draw a digit"))
widgets.explainer(
    _(
        "Draw a digit and the network reads it after every stroke. The bars are its ten "
        "**probabilities**: how sure it is of each answer; below the threshold you choose it says "
        '"not sure". Before reading, your drawing is made to look like an MNIST digit: cut to the '
        'ink, shrunk to 20 pixels and centred in a 28 × 28 square (the images under "What the '
        'model sees"). A network only knows the kind of images it was trained on, and the '
        "comparison with a naive resize shows why this step matters. Inside the network, each "
        "layer's **feature maps** show where its filters found their patterns in your drawing."
    )
)
entry = widgets.require_model()
st.caption(
    _("Read by {model} ({params} parameters). Change it in the sidebar.").format(
        model=state.display_name(entry.name), params=f"{entry.params:,}"
    )
)
take_home.web_page_button(entry, key="draw_web_page", width="content")

streamlit_workarounds.send_drawings_on_release()
streamlit_workarounds.fit_canvases_for_touch(
    _("Drawing canvas: draw one digit with a finger, a pen or the mouse"), _("Undo"), _("Redo")
)
# The reader may end the run early (st.stop keeps its closed sections' state), so the set is
# drawn first, in its place below the reader.
reader_place = st.container()
handwriting.handwriting_set()
with reader_place:
    reader(entry)
