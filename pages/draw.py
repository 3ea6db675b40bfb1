"""Draw: write a digit with the mouse (or upload a photo) and watch the model read it."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

import mnist_core as mc
from pages import common

st.title("Draw a digit")
entry = common.current_model()
if entry is None:
    st.info("There is no model yet: train one on the Train page.", icon=":material/info:")
    st.stop()
st.caption(f"Read by {entry.name} ({entry.params:,} parameters). Change it in the sidebar.")

st.session_state.setdefault("canvas_generation", 0)


def clear() -> None:
    """A fresh canvas: the component only resets when its key changes."""
    st.session_state.canvas_generation += 1


source, result = st.columns([2, 3], gap="large")
with source:
    draw, upload = st.tabs(["Draw", "Upload a picture"])
    with draw:
        stroke = st.slider("Pen width", 8, 40, 20, key="draw_stroke", persist_state="session")
        canvas = st_canvas(
            stroke_width=stroke,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=280,
            width=280,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"canvas_{st.session_state.canvas_generation}",
        )
        st.button("Clear", icon=":material/delete:", on_click=clear)
    with upload:
        file = st.file_uploader(
            "A PNG or JPEG of one digit: white on black, or a photo of dark ink on paper",
            type=["png", "jpg", "jpeg"],
            max_upload_size=10,
            key="draw_upload",
        )
    threshold = st.slider(
        "Say “not sure” below", 0.5, 0.99, 0.7, step=0.01, key="draw_threshold",
        persist_state="session", help="The top probability a prediction needs to be trusted.",
    )  # fmt: skip
    naive = st.toggle(
        "Compare with a naive resize of the whole canvas", key="draw_naive",
        persist_state="session",
    )  # fmt: skip

image, origin = None, "drawing"
if file is not None:
    try:
        image, origin = mc.read_image_file(file.getvalue()), f"upload {file.name}"
    except mc.ImageFileError as err:
        result.error(str(err), icon=":material/broken_image:")
if image is None and canvas.image_data is not None:
    image = canvas.image_data

try:
    steps = mc.preprocess_steps(image) if image is not None else None
except mc.EmptyImageError:
    steps = None

with result:
    if steps is None:
        st.info(
            "Draw a digit on the black square (or upload a picture): the prediction appears "
            "after each stroke.",
            icon=":material/draw:",
        )
        st.stop()
    probs = mc.predict(entry.model, steps.centred)[0]
    digit, confidence = int(probs.argmax()), float(probs.max())
    a, b = st.columns(2)
    a.metric("Prediction", digit if confidence >= threshold else "not sure", border=True)
    b.metric(
        "Confidence", f"{confidence:.0%}", border=True,
        help=None if confidence >= threshold else f"Best guess {digit}, below {threshold:.0%}",
    )  # fmt: skip
    if confidence < threshold:
        st.warning(
            f"Not sure: the best guess is {digit}, at {confidence:.0%}.", icon=":material/help:"
        )
    st.plotly_chart(mc.charts.probability_bars(probs, threshold), width="stretch")

    st.markdown(f"**What the model sees** ({origin}: crop, scale to 20 px, centre in 28×28)")
    shown = [steps.ink, steps.cropped, steps.scaled, mc.charts.upscale(steps.centred, 4)]
    st.image(
        [mc.charts.pad_square(np.clip(s, 0, 1)) for s in shown],
        caption=["input", "cropped to the ink", "longer side 20 px", "centred: 28×28"],
        width=112,
        output_format="PNG",
    )
    if naive:
        plain = mc.naive_resize(image)
        plain_probs = mc.predict(entry.model, plain)[0]
        st.image(
            mc.charts.upscale(plain, 4),
            caption="naive: the whole canvas squeezed to 28×28",
            width=112,
            output_format="PNG",
        )
        st.markdown(
            f"A naive resize would predict **{int(plain_probs.argmax())}** "
            f"({plain_probs.max():.0%}), against **{digit}** with MNIST-style centring."
        )

with st.expander("Look inside the network", icon=":material/visibility:"):
    st.markdown(
        "Each conv layer turns the image into *feature maps*: one per filter, bright where "
        "the filter found its pattern. The first layer's filters are small stroke detectors."
    )
    for name, maps in mc.feature_maps(entry.model, steps.centred):
        channels = np.moveaxis(maps, -1, 0)
        st.image(
            mc.charts.upscale(mc.charts.tile(channels, cols=16), 3 if maps.shape[0] > 14 else 6),
            caption=f"{name}: {channels.shape[0]} maps of {maps.shape[0]}×{maps.shape[1]}",
            output_format="PNG",
        )
    filters = mc.first_layer_filters(entry.model)
    if filters is None:
        st.caption("This model has no conv layers to look inside.")
    else:
        k = filters.shape[1]
        st.image(
            mc.charts.upscale(mc.charts.tile(filters, cols=16), 12),
            caption=f"First layer: {len(filters)} learned {k}×{k} filters",
            output_format="PNG",
        )
