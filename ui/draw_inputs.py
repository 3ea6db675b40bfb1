"""Draw's inputs: the canvas, an uploaded picture or a camera photo, and which of them to read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mnist_core.engine.preprocess import (
    DigitTooSmallError,
    EmptyImageError,
    ImageFileError,
    PreprocessSteps,
    preprocess_steps,
    read_image_file,
)
from mnist_core.i18n import _
from ui import widgets

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator


def clear() -> None:
    """A fresh canvas: the component only resets when its key changes."""
    st.session_state.canvas_generation += 1


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
