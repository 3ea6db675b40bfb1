"""Widgets more than one page uses: the sidebar, the no-model guard, digit galleries."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import streamlit as st

from mnist_core.classroom.jobs import TrainingJob
from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.config import ModelFileError
from mnist_core.data import IMAGE_SIDE
from mnist_core.engine.preprocess import MAX_UPLOAD_BYTES
from mnist_core.i18n import N_, _
from mnist_core.presentation import charts, export
from ui import accessibility, language, navigation, state, take_home

MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // 2**20  # the same as server.maxUploadSize in config.toml
TILE_PX = 84  # a 28×28 digit shown 3× larger
MODEL_PICKER = "current_model"


def sidebar() -> None:
    """Where the data came from, the current model (pick, download, load another), the run."""
    state.say_if_workspace_gone()  # above the page: it explains why the page starts anew
    entries = state.select_current_model()
    with st.sidebar:
        language.switch()
        with st.spinner(_("Loading MNIST…")):
            source = state.mnist()
        if source.is_sample:
            st.warning(source.describe(), icon=":material/wifi_off:")
        else:
            st.caption(source.describe())
        if entries:
            _current_model_picker(entries)
        else:
            st.info(_("No model yet: train one on the Train page."))
        _model_upload()
        if (job := state.active_job()) is not None:
            st.fragment(_run_status, run_every=5)(job)
        st.fragment(_keep_workspace, run_every=KEEP_ALIVE_SECONDS)()
        accessibility.page_aids(language.current())


KEEP_ALIVE_SECONDS = 60  # an open tab keeps its workspace; closed ones expire (ui/state.py)


def _keep_workspace() -> None:
    """An open tab, even an idle one, tells the server its workspace is still wanted."""
    state.keep_workspace()


def _run_status(job: TrainingJob) -> None:
    """The run going on, from any page; also tells the run someone is still here."""
    job.seen()
    view = job.view()
    if view.finished:
        st.rerun()  # the whole app: the new model joins the picker
    last = view.batches[-1:]
    if last:
        status = _("{run} is {state}: epoch {epoch} of {epochs}").format(
            run=view.name, state=view.state.label, epoch=last[0].epoch, epochs=last[0].epochs
        )
    else:
        status = _("{run} is {state}").format(run=view.name, state=view.state.label)
    st.caption(f":orange[●] {status}")


def _current_model_picker(entries: dict[str, ModelEntry]) -> None:
    entry = entries[state.workspace().current_model]  # select_current_model picked it
    # The workspace holds the choice (another tab, a finished run may change it); the picker
    # shows it, and writes the user's pick back.
    if st.session_state.get(MODEL_PICKER) != entry.name:
        st.session_state[MODEL_PICKER] = entry.name
    st.selectbox(
        _("Current model"),
        list(entries),
        key=MODEL_PICKER,
        format_func=state.display_name,
        on_change=lambda: state.choose_model(st.session_state[MODEL_PICKER]),
        help=_(
            "The network that Evaluate and Draw use. Its parameters are the numbers it learned "
            "in training: the weights of its filters and connections."
        ),
    )
    accuracy = f"{entry.test_accuracy:.2%}" if entry.test_accuracy is not None else _("not tested")
    st.caption(
        _("{params:,} parameters · test accuracy {accuracy}").format(
            params=entry.params, accuracy=accuracy
        )
        + (_(" · trained {when}").format(when=entry.when) if entry.when else "")
    )
    if entry.summary:
        st.caption(entry.summary)
    # One menu for both files: one keyboard stop on every page's way to its content.
    with st.popover(_("Download this model"), icon=":material/download:", width="stretch"):
        st.download_button(
            _("As a Keras file, for Python"),
            data=lambda: _keras_file(entry),
            file_name=export.file_stem(entry.name) + ".keras",
            mime="application/zip",
            icon=":material/download:",
            on_click="ignore",
            width="stretch",
            key="sidebar_keras",
        )
        take_home.web_page_button(entry, key="sidebar_web_page")


def _keras_file(entry: ModelEntry) -> bytes:
    from mnist_core.engine.model import model_to_bytes  # TensorFlow, once asked for

    return model_to_bytes(entry.model)


def csv_download(
    label: str, data: Callable[[], str], file_name: str, key: str, help: str | None = None
) -> None:
    """A button that downloads `data()` as a CSV file, made only when clicked; the click
    reruns nothing."""
    st.download_button(
        label,
        data=data,
        file_name=file_name,
        mime="text/csv",
        key=key,
        help=help,
        on_click="ignore",
        icon=":material/download:",
    )


def _model_upload() -> None:
    with st.popover(_("Load a model"), icon=":material/upload:", width="stretch"):
        upload = st.file_uploader(
            _(
                "A model downloaded from Digit Lab, or any Keras model taking 28×28×1 digits "
                "and giving 10 classes"
            ),
            type=["keras"],
            max_upload_size=MAX_UPLOAD_MB,
            key="model_upload",
        )
        if upload is None:
            return
        if upload.file_id == st.session_state.get("model_upload_done"):
            st.success(_("Loaded {file}: it is in the model list above.").format(file=upload.name))
            return
        try:
            state.add_upload(upload.name, upload.getvalue())
        except ModelFileError as err:
            st.error(str(err), icon=":material/error:")
        else:
            st.session_state.model_upload_done = upload.file_id
            # The picker shows the new current model: keyboard focus goes there.
            accessibility.focus_after_rerun(
                '[data-testid="stSidebar"] [data-testid="stSelectbox"] input', upload.name
            )
            st.rerun()


def require_model() -> ModelEntry:
    """The current model; without one, say so, link to Train and end the page here."""
    entry = state.current_model()
    if entry is None:
        st.info(_("There is no model yet: train one on the Train page."), icon=":material/info:")
        navigation.link(navigation.TRAIN, _("Go to Train"))
        st.stop()
    return entry


def digit_gallery(
    images: Sequence[np.ndarray], captions: Sequence[str], alts: Sequence[str]
) -> None:
    """28×28 digits as crisp tiles with captions and, for screen readers, alt texts that say
    what each image is ("handwritten 5, training digit #50786"); "No images here." if none."""
    if len(images) == 0:
        st.caption(_("No images here."))
        return
    st.image(
        [charts.upscale(image, TILE_PX // IMAGE_SIDE) for image in images],
        caption=list(captions),
        alt=list(alts),
        width=TILE_PX,
        output_format="PNG",
    )


# The close-up's 28 columns print 3-digit numbers at 10 px when the chart is this wide; on a
# narrower screen the numbers go (a tap or hover still tells each pixel's value).
_CLOSEUP_NUMBERS_MIN_PX = 540
_CLOSEUP_STYLE = f"""<style>
.st-key-pixel_closeup {{ container-type: inline-size; }}
@container (max-width: {_CLOSEUP_NUMBERS_MIN_PX}px) {{
  .st-key-pixel_closeup g.heatmap-label {{ display: none; }}
}}
</style>"""


def pixel_closeup(figure) -> None:
    """A digit's pixel heatmap (charts.pixel_heatmap), its numbers shown only where they fit."""
    st.html(_CLOSEUP_STYLE)
    with st.container(key="pixel_closeup"):
        st.plotly_chart(figure, width="stretch", config=charts.CONFIG)


def plain(text: str) -> str:
    """`text` to show as itself inside Markdown: its Markdown and HTML characters escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", text)


def explainer(text: str) -> None:
    """The page's "What am I looking at?" box: plain words (`text`, translated) for someone new."""
    with st.expander(_("What am I looking at?"), icon=":material/help:"):
        st.markdown(text)


# Table headers, marked for translation; the data keeps its English column names.
HEADERS = {
    "layer": N_("layer"),
    "type": N_("type"),
    "output shape": N_("output shape"),
    "parameters": N_("parameters"),
    "epoch": N_("epoch"),
    "complete": N_("complete"),
    "loss": N_("loss"),
    "accuracy": N_("accuracy"),
    "val loss": N_("val loss"),
    "val accuracy": N_("val accuracy"),
    "seconds": N_("seconds"),
    "run": N_("run"),
    "outcome": N_("outcome"),
    "network": N_("network"),
    "epochs": N_("epochs"),
    "test accuracy": N_("test accuracy"),
}


def column_labels(table: pd.DataFrame) -> dict[str, str]:
    """The table's column names translated, as st.dataframe's column_config labels."""
    return {name: _(HEADERS[name]) for name in table.columns}


def table(
    rows,
    percent: tuple[str, ...] = (),
    formats: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    key_column: str | None = None,
) -> None:
    """A full-width table without an index; `percent` columns shown as percentages, columns
    shown under `labels` (translated headers; the data keeps its own column names). The
    `key_column` (the one that names each row) stays in view while a narrow screen scrolls."""
    labels = labels or {}
    formats = {name: "percent" for name in percent} | (formats or {})
    config: dict = dict(labels)
    config |= {
        name: st.column_config.NumberColumn(labels.get(name), format=f)
        for name, f in formats.items()
    }
    if key_column is not None:
        config[key_column] = st.column_config.Column(labels.get(key_column), pinned=True)
    st.dataframe(rows, hide_index=True, width="stretch", column_config=config)


def evidence_map(model, image: np.ndarray, target: int, caption: str) -> None:
    """Which pixels pushed `model` towards `target` (Integrated Gradients), and how to read it."""
    from mnist_core.engine import saliency

    explained = state.remembered("saliency", saliency.saliency, model, image, target)
    picture, words = st.columns([1, 3], vertical_alignment="center")
    picture.image(
        charts.upscale(saliency.overlay(image, explained.attributions), 4),
        caption=caption,
        width=4 * IMAGE_SIDE,
        output_format="PNG",
        alt=_(
            "evidence map for {digit}: the digit's pixels coloured by how they swayed the network"
        ).format(digit=target),
    )
    words.caption(_(saliency.HOW_TO_READ))


def open_expander(label: str, icon: str, key: str) -> st.delta_generator.DeltaGenerator | None:
    """An expander whose content is worked out only while it is open: its place while open,
    None while closed (opening or closing it reruns the page, which then fills or skips it)."""
    place = st.expander(label, icon=icon, key=key, on_change="rerun")
    return place if place.open else None
