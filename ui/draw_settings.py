"""Draw's settings: the pen, when to say "not sure", the naive comparison and the bend sliders."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from mnist_core.i18n import N_, _


@dataclass(frozen=True)
class Bend:
    """One bend slider (label and help untranslated, as `N_` marks them)."""

    label: str
    low: float
    high: float
    step: float
    untouched: float
    help: str


BENDS = {  # named as `transforms.bend`'s arguments
    "rotation": Bend(N_("Turn (degrees)"), -90, 90, 5, 0, N_("Positive turns it anticlockwise.")),
    "dx": Bend(
        N_("Move right"), -8, 8, 1, 0, N_("In pixels of the 28 × 28 image; negative moves left.")
    ),
    "dy": Bend(
        N_("Move down"), -8, 8, 1, 0, N_("In pixels of the 28 × 28 image; negative moves up.")
    ),
    "factor": Bend(N_("Size (×)"), 0.3, 2.0, 0.05, 1.0, N_("Shrink or grow it about the centre.")),
    "stroke": Bend(
        N_("Pen (thinner ↔ thicker)"), -2, 2, 1, 0, N_("Make its strokes thinner or thicker.")
    ),
    "noise": Bend(N_("Noise"), 0.0, 1.0, 0.05, 0.0, N_("Sprinkle random grey dots over it.")),
}


@dataclass(frozen=True)
class ReaderSettings:
    """How Draw reads: the pen's width, the "not sure" threshold, whether to compare with a
    naive resize, and the bends (`transforms.bend`'s arguments)."""

    stroke: int
    threshold: float
    naive: bool
    bends: dict[str, float]

    @property
    def bent(self) -> bool:
        """Whether any bend slider has left its untouched value."""
        return any(self.bends[name] != bend.untouched for name, bend in BENDS.items())


def reader_settings() -> ReaderSettings:
    """Every setting of the reader, in the order they are shown."""
    stroke = pen_width()
    threshold, naive = reading_settings()
    return ReaderSettings(stroke, threshold, naive, bend_sliders())


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


def reset_bends() -> None:
    """Put every bend slider back to the untouched drawing."""
    for name, bend in BENDS.items():
        st.session_state[f"bend_{name}"] = bend.untouched


def bend_sliders() -> dict[str, float]:
    """Sliders that bend the image the model reads; returns `transforms.bend`'s arguments."""
    st.markdown(_("**Bend it** until the network breaks"))
    values = {}
    for column, (name, bend) in zip(st.columns(3) * 2, BENDS.items()):
        values[name] = column.slider(
            _(bend.label),
            bend.low,
            bend.high,
            bend.untouched,
            step=bend.step,
            key=f"bend_{name}",
            help=_(bend.help),
        )
    st.button(_("Undo the bends"), icon=":material/undo:", on_click=reset_bends)
    return values
