"""The user's own handwriting set on Draw: add a drawing with its true digit, browse, delete,
download and upload the set, and fine-tune a model on it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from mnist_core.data import IMAGE_SIDE, NUM_CLASSES
from mnist_core.engine.handwriting import (
    HandwritingError,
    HandwritingFileError,
    HandwritingSet,
    HandwrittenDigit,
)
from mnist_core.engine.preprocess import ImageError
from mnist_core.i18n import N_, _, ngettext
from mnist_core.presentation import charts
from ui import navigation, state, widgets

THUMB_PX = 56  # a 28×28 digit shown 2× larger
EVAL_MNIST, EVAL_MINE = N_("MNIST test digits"), N_("My handwriting set")  # Evaluate's two choices


def own_digits() -> HandwritingSet:
    """This user's handwriting set (kept with their runs, across reloads and tabs)."""
    return state.workspace().handwriting


def add_buttons(drawn: bool) -> dict[str, int]:
    """One button per digit. Returns the keep request for `keep_if_asked`: {"digit": d} in the
    run a click on d started, else empty (a button is true in that run only)."""
    st.markdown(_("**Keep it in my handwriting set** as the digit it really is:"))
    request = {}
    # One row of equal buttons that wraps where it must: columns would stack into ten rows on a
    # phone.
    row = st.container(horizontal=True, gap="small")
    for digit in range(NUM_CLASSES):
        if row.button(
            str(digit),
            key=f"keep_{digit}",
            width=44,
            help=(
                _("Add this drawing to your set as {a_digit}")
                if drawn
                else _("Add this picture to your set as {a_digit}")
            ).format(a_digit=_a(digit)),
        ):
            request["digit"] = digit
    return request


def keep_if_asked(
    request: dict[str, int],
    image: np.ndarray | None,
    drawn: bool = True,
    after_add: Callable[[], None] | None = None,
) -> None:
    """Answer `add_buttons`'s request once (it is emptied): keep `image`, what the reader reads
    now, as the digit pressed, then rerun the page; with no image, say there is nothing to keep."""
    digit = request.pop("digit", None)
    if digit is None:
        return
    if image is None:
        st.toast(
            _("Nothing to keep: draw a digit (or upload a picture) first."),
            icon=":material/error:",
        )
        return
    try:
        own_digits().add(image, digit, drawing=drawn)
    except (ImageError, HandwritingError) as err:  # a full set, say
        st.toast(str(err), icon=":material/error:")
        return
    # Said by the page's next run (`handwriting_set`): a toast sent in this run, which ends in a
    # rerun of the whole page, often never showed.
    st.session_state.kept_message = ngettext(
        "Kept as {a_digit}. Your set holds {n} digit.",
        "Kept as {a_digit}. Your set holds {n} digits.",
        len(own_digits()),
    ).format(a_digit=_a(digit), n=len(own_digits()))
    if after_add is not None:
        after_add()
    st.rerun()  # the whole page: Draw's reader is a fragment, and the set below it has grown


def _a(digit: int) -> str:
    """ "a 3", "an 8"."""
    return (_("an {digit}") if digit == 8 else _("a {digit}")).format(digit=digit)


def handwriting_set() -> None:
    """The set: a gallery per digit, deleting, the file, and what to do with it (computed only
    while its section is open)."""
    if kept := st.session_state.pop("kept_message", None):
        st.toast(kept, icon=":material/check:")
    own = own_digits()
    section = widgets.open_expander(
        ngettext(
            "My handwriting set ({n} digit)", "My handwriting set ({n} digits)", len(own)
        ).format(n=len(own)),
        ":material/collections:",
        "handwriting_open",
    )
    if section is None:
        return
    with section:
        st.caption(
            _(
                "MNIST's digits were written by American census staff and students; yours are the "
                "honest test. Draw a digit, then press its number above to keep it. The set stays "
                "while you use the app (reloads and other tabs included); download it to keep it "
                "for good."
            )
        )
        # One snapshot for the whole section: other tabs may change the set meanwhile.
        version, items = own.version, own.items()
        if items:
            _gallery(items)
            _delete(items, version)
            _use_it(own)
        _file(own)


def _gallery(items: list[HandwrittenDigit]) -> None:
    counts = np.bincount([item.digit for item in items], minlength=NUM_CLASSES)
    st.caption(" · ".join(f"{d}: {n}" for d, n in enumerate(counts)))
    for digit in np.flatnonzero(counts):
        row = [(i, item) for i, item in enumerate(items) if item.digit == digit]
        st.markdown(f"**{digit}**")
        st.image(
            [charts.upscale(item.image, THUMB_PX // IMAGE_SIDE) for _i, item in row],
            caption=[f"#{i + 1}" for i, _item in row],
            width=THUMB_PX,
            output_format="PNG",
            alt=[
                _("your handwritten {digit}, #{n} in your set").format(digit=digit, n=i + 1)
                for i, _item in row
            ],
        )


def _delete(items: list[HandwrittenDigit], version: int) -> None:
    key = f"handwriting_picked_{version}"  # picks are positions in this version of the set
    picked = st.pills(
        _("Pick digits to delete"),
        range(len(items)),
        format_func=lambda i: f"#{i + 1} ({items[i].digit})",
        selection_mode="multi",
        key=key,
    )
    left, right = st.columns(2)
    left.button(
        _("Delete {n} picked").format(n=len(picked)),
        icon=":material/delete:",
        disabled=not picked,
        on_click=lambda: own_digits().discard([items[i] for i in st.session_state[key]]),
    )
    right.button(
        _("Delete the whole set"),
        icon=":material/delete_sweep:",
        on_click=lambda: own_digits().discard(own_digits().items()),
    )


def _file(own: HandwritingSet) -> None:
    left, right = st.columns(2)
    left.download_button(
        _("Download my set (.npz)"),
        data=own.to_npz_bytes,
        file_name="my-handwriting.npz",
        mime="application/octet-stream",
        icon=":material/download:",
        on_click="ignore",
        disabled=not len(own),
        help=_("MNIST's layout: x_test (28×28 digits), y_test (their labels), and your drawings."),
    )
    with right.popover(_("Load a set (.npz)"), icon=":material/upload:"):
        upload = st.file_uploader(
            _("A set downloaded from Digit Lab; it replaces the set you have now"),
            max_upload_size=widgets.MAX_UPLOAD_MB,
            key="handwriting_upload",
        )
        if upload is None or upload.file_id == st.session_state.get("handwriting_loaded"):
            return
        try:
            loaded = HandwritingSet.from_npz_bytes(upload.getvalue())
        except HandwritingFileError as err:
            st.error(
                _("{file}: {error}").format(file=upload.name, error=err), icon=":material/error:"
            )
            return
        own.replace_with(loaded)
        st.session_state.handwriting_loaded = upload.file_id
        st.rerun()


def _use_it(own: HandwritingSet) -> None:
    st.markdown(_("**Use it**"))
    st.session_state.setdefault("finetune_epochs", 3)
    left, right = st.columns(2)
    with left:
        if st.button(_("Test the current model on it"), icon=":material/fact_check:"):
            st.session_state.eval_data = EVAL_MINE
            st.switch_page(navigation.EVALUATE.path)
    with right:
        entry = state.current_model()
        epochs = st.slider(
            _("Fine-tune epochs"),
            1,
            10,
            key="finetune_epochs",
            persist_state="session",
            help=_(
                "How many rounds of training on your digits (each shown several times, mixed "
                "with three times as many MNIST digits so the network does not forget them)."
            ),
        )
        busy = state.active_job() is not None
        label = _("Fine-tune")
        if entry:
            label = _("Fine-tune {model} on my set").format(model=state.display_name(entry.name))
        if st.button(
            label,
            icon=":material/tune:",
            disabled=entry is None or busy,
            help=_("One training at a time, in all your tabs")
            if busy
            else _(
                "A new run starts from a copy of the current model and learns your handwriting; "
                "the original stays as it is."
            ),
        ):
            try:
                state.start_fine_tune(entry, own, epochs)
            except HandwritingError as err:  # another tab emptied the set
                st.error(str(err), icon=":material/error:")
            else:
                st.switch_page(navigation.TRAIN.path)  # where the run shows
