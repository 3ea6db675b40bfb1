"""Draw: write a digit with a finger or the mouse (or upload a picture, or take a photo) and
watch the model read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.engine import transforms
from mnist_core.engine.model import feature_maps, first_layer_filters, predict
from mnist_core.engine.preprocess import (
    DigitTooSmallError,
    EmptyImageError,
    ImageFileError,
    PreprocessSteps,
    naive_resize,
    preprocess_steps,
    read_image_file,
)
from mnist_core.i18n import N_, _
from mnist_core.presentation import charts
from ui import (
    digit_map,
    filter_steps,
    handwriting,
    state,
    streamlit_workarounds,
    take_home,
    widgets,
)

if TYPE_CHECKING:
    import keras
    from streamlit.delta_generator import DeltaGenerator

streamlit_workarounds.reroute_direct_page_run()
TILE = 112  # px: a 28×28 image shown 4× larger


def clear() -> None:
    """A fresh canvas: the component only resets when its key changes."""
    st.session_state.canvas_generation += 1


def pen_width() -> int:
    """The pen's width in pixels of the canvas."""
    return st.slider(
        _("Pen width"),
        8,
        40,
        20,
        key="draw_stroke",
        persist_state="session",
        help=_("How thick your pen is, in pixels of this 280 × 280 canvas."),
    )


def canvas(stroke: int) -> np.ndarray | None:
    """The drawing canvas; the RGBA image, if any."""
    drawn = st_canvas(
        stroke_width=stroke,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=280,
        width=280,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"canvas_{st.session_state.canvas_generation}",
    )
    return drawn.image_data


def upload() -> tuple[np.ndarray | None, str]:
    """A picture to read instead of the drawing: (image or None, its file name).

    Any file is taken and checked here, so a refused one is explained and clears the result
    (the widget would silently keep the previous file if it refused one by its extension).
    """
    file = st.file_uploader(
        _(
            "A picture of one digit (PNG, JPEG, GIF, BMP, WebP…): white on black, or a photo of "
            "dark ink on paper"
        ),
        max_upload_size=widgets.MAX_UPLOAD_MB,
        key="draw_upload",
    )
    if file is None:
        return None, ""
    try:
        return read_image_file(file.getvalue()), file.name
    except ImageFileError as err:
        st.error(
            _("{file}: {error}").format(file=file.name, error=err), icon=":material/broken_image:"
        )
        return None, file.name


def camera() -> tuple[np.ndarray | None, str]:
    """A photo of a digit on paper from this device's camera: (image or None, its name).

    The camera starts only when asked: one started by opening the page would ask every visitor
    for the camera, and Streamlit's tabs build every tab's content, shown or not.
    """
    if not st.toggle(_("Use my camera"), key="draw_camera_on"):
        return None, ""
    photo = st.camera_input(
        _("A digit written large in dark ink on light paper, filling most of the picture"),
        key="draw_camera",
    )
    if photo is None:
        return None, ""
    name = _("your photo")
    try:
        return read_image_file(photo.getvalue()), name
    except ImageFileError as err:
        st.error(_("{file}: {error}").format(file=name, error=err), icon=":material/broken_image:")
        return None, name


def digit_to_read(
    drawing: np.ndarray | None, picture: np.ndarray | None, name: str
) -> tuple[PreprocessSteps, np.ndarray, bool] | None:
    """The upload if there is one, else the drawing: (its preprocessing steps, the image, whether
    it is the drawing). None, having said why, when there is nothing to read."""
    if name and picture is None:
        return None  # a refused upload: its error is on screen, and no older result stays
    drawn = picture is None
    image = drawing if drawn else picture
    try:
        if image is not None:
            return preprocess_steps(image, drawing=drawn), image, drawn
    except DigitTooSmallError as err:
        st.warning(str(err), icon=":material/zoom_in:")
        return None
    except EmptyImageError:
        if not drawn:
            st.warning(
                _(
                    "Nothing to read in {name}: it looks blank (no ink stands out from the paper)."
                ).format(name=name),
                icon=":material/hide_image:",
            )
            return None
    st.info(
        _(
            "Draw a digit on the black square (or upload a picture, or take a photo): the "
            "prediction appears after each stroke."
        ),
        icon=":material/draw:",
    )
    return None


BENDS = {  # slider: (label, low, high, step, untouched value, help)
    "rotation": (N_("Turn (degrees)"), -90, 90, 5, 0, N_("Positive turns it anticlockwise.")),
    "dx": (
        N_("Move right"),
        -8,
        8,
        1,
        0,
        N_("In pixels of the 28 × 28 image; negative moves left."),
    ),
    "dy": (N_("Move down"), -8, 8, 1, 0, N_("In pixels of the 28 × 28 image; negative moves up.")),
    "factor": (N_("Size (×)"), 0.3, 2.0, 0.05, 1.0, N_("Shrink or grow it about the centre.")),
    "stroke": (
        N_("Pen (thinner ↔ thicker)"),
        -2,
        2,
        1,
        0,
        N_("Make its strokes thinner or thicker."),
    ),
    "noise": (N_("Noise"), 0.0, 1.0, 0.05, 0.0, N_("Sprinkle random grey dots over it.")),
}


def reset_bends() -> None:
    """Put every bend slider back to the untouched drawing."""
    for name, (*_spec, untouched, _help) in BENDS.items():
        st.session_state[f"bend_{name}"] = untouched


def bend_sliders() -> dict:
    """Sliders that bend the image the model reads; returns `transforms.bend`'s arguments."""
    st.markdown(_("**Bend it** until the network breaks"))
    values = {}
    for column, (name, (label, low, high, step, untouched, help_text)) in zip(
        st.columns(3) * 2, BENDS.items()
    ):
        values[name] = column.slider(
            _(label), low, high, untouched, step=step, key=f"bend_{name}", help=_(help_text)
        )
    st.button(_("Undo the bends"), icon=":material/undo:", on_click=reset_bends)
    return values


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
    st.html(charts.probability_bars(probs, threshold))
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
        [charts.pad_square(np.clip(image, 0, 1)) for image in images],
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
            charts.sweep_chart(sweep, now), width="stretch", config={"displayModeBar": False}
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


def reading_settings() -> tuple[float, bool]:
    """The "not sure" threshold, and whether to compare with a naive resize."""
    threshold = st.slider(
        _("Say “not sure” below"),
        0.5,
        0.99,
        0.7,
        step=0.01,
        key="draw_threshold",
        persist_state="session",
        help=_("The top probability a prediction needs to be trusted."),
    )
    naive = st.toggle(
        _("Compare with a naive resize of the whole canvas"),
        key="draw_naive",
        persist_state="session",
        help=_(
            "Squeeze the whole canvas to 28 × 28 without cutting to the ink or centring, as a "
            "quick app would, and see what the network makes of that."
        ),
    )
    return threshold, naive


def sources() -> tuple[DeltaGenerator, np.ndarray | None, str]:
    """Where the canvas goes, and the picture to read instead of the drawing, if any (a photo
    before an upload): (the canvas's place, the picture or None, its name or "")."""
    draw_tab, upload_tab, camera_tab = st.tabs(
        [_("Draw"), _("Upload a picture"), _("Take a photo")]
    )
    with draw_tab:
        # The canvas takes a finger, a pen or a mouse, not the keyboard: say where to go instead.
        st.caption(
            _(
                "Draw with a finger, a pen or the mouse. With a keyboard, upload a picture or "
                "take a photo instead (the tabs above)."
            )
        )
        canvas_place = st.container()  # filled by `reading`, as are the other places
        st.button(_("Clear"), icon=":material/delete:", on_click=clear)
    with upload_tab:
        picture, name = upload()
    with camera_tab:
        photo, photo_name = camera()
    if photo_name:
        return canvas_place, photo, photo_name
    return canvas_place, picture, name


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
    settings, more = st.columns([2, 3], gap="medium")
    with source:
        canvas_place, picture, name = sources()
    with settings:
        stroke = pen_width()
        threshold, naive = reading_settings()
        bends = bend_sliders()
    with result:
        answer_place = st.container()
        # A click asks `reading` to keep what it reads in the click's own run: never a drawing
        # of an earlier run. A stroke's rerun of `reading` gets this same request back, answered
        # and so emptied: it keeps nothing unasked.
        keep_request = handwriting.add_buttons(drawn=not name)
    details_place = more.container()
    places = (canvas_place, answer_place, details_place)
    reading(entry, places, keep_request, stroke, picture, name, threshold, naive, bends)


@st.fragment
def reading(
    entry: ModelEntry,
    places: tuple[DeltaGenerator, DeltaGenerator, DeltaGenerator],
    keep_request: dict[str, int],
    stroke: int,
    picture: np.ndarray | None,
    name: str,
    threshold: float,
    naive: bool,
    bends: dict,
) -> None:
    """The canvas and everything read from it (or from the upload), with the reader's settings.
    A fragment inside the reader: a stroke reruns only this, keeping the arguments it was last
    called with (each change to them reruns the reader, and so this with the new values)."""
    canvas_place, answer_place, details_place = places
    with canvas_place:
        drawing = canvas(stroke)
    # Written into on every run, even one with nothing to show: a stroke's run may write into a
    # container made outside it only if the reader's run that made it saw this one write there.
    answer, details = answer_place.container(), details_place.container()
    with answer:
        to_read = digit_to_read(drawing, picture, name)
    if to_read is None:
        handwriting.keep_if_asked(keep_request, None)
        st.stop()  # not an if around the rest: st.stop keeps the state of the sections below
    steps, image, drawn = to_read
    handwriting.keep_if_asked(keep_request, image, drawn, after_add=clear if drawn else None)
    model = entry.model  # once: each use of the default's would open and close a spinner
    with answer:
        bent = transforms.bend(steps.centred, **bends)
        digit = prediction(model, bent, threshold)
    with details:
        untouched = all(bends[name] == spec[4] for name, spec in BENDS.items())
        origin = _("your drawing") if drawn else name
        preprocessing(steps, origin, None if untouched else bent)
        st.markdown(_("**Why {digit}?**").format(digit=digit))
        widgets.evidence_map(model, bent, digit, _("evidence for {digit}").format(digit=digit))
        if naive:
            naive_comparison(model, image, digit, drawing=drawn)

    # Computed only while open: nothing is worked out for a closed section. Both start closed: on
    # every stroke, the sweeps and their two charts cost server and browser more than all above.
    sweeps = st.expander(
        _("Where does it break?"),
        icon=":material/rotate_right:",
        key="draw_sweeps",
        on_change="rerun",
    )
    if sweeps.open:
        with sweeps:
            breaking_points(model, steps.centred, bends)
    inside = st.expander(
        _("Look inside the network"),
        icon=":material/visibility:",
        key="draw_inside",
        on_change="rerun",
    )
    if inside.open:
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
