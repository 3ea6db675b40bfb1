"""Evaluate: how often the current model is right, per digit, and which digits it confuses."""

import numpy as np
import pandas as pd
import streamlit as st

from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.data import NUM_CLASSES
from mnist_core.engine.evaluation import Evaluation
from mnist_core.i18n import _, ngettext
from mnist_core.presentation import charts, export
from ui import digit_map, handwriting, lessons, navigation, state, streamlit_workarounds, widgets

streamlit_workarounds.reroute_direct_page_run()
SIZES = [500, 1000, 2000, 5000, 10000]
DIGITS = list(range(NUM_CLASSES))


def size_picker(test_size: int) -> int:
    """How many test digits to evaluate on."""
    sizes = [n for n in SIZES if n < test_size] + [test_size]
    return st.select_slider(
        _("Test digits"),
        sizes,
        value=sizes[0],
        key="eval_n",
        persist_state="session",
        help=_("The codelab tests on 500; all 10,000 give the final word."),
    )


def digits_to_test(entry: ModelEntry) -> tuple[Evaluation, np.ndarray, bool]:
    """MNIST's test digits or the user's own: (evaluation, the digits, whether they are own)."""
    own = handwriting.own_digits()
    st.session_state.setdefault("eval_data", handwriting.EVAL_MNIST)
    choice = st.segmented_control(
        _("Test on"),
        [handwriting.EVAL_MNIST, handwriting.EVAL_MINE],
        key="eval_data",
        required=True,
        persist_state="session",
        format_func=lambda name: (
            f"{_(name)} ({len(own)})" if name == handwriting.EVAL_MINE else _(name)
        ),
        help=_("MNIST's 10,000 test digits, or the digits you drew and kept on the Draw page."),
    )
    if choice == handwriting.EVAL_MNIST:
        return *state.evaluation(entry, size_picker(len(state.mnist().y_test))), False
    if not len(own):
        st.info(
            _(
                "Your handwriting set is empty: draw digits on the Draw page and keep each one "
                "with its number."
            ),
            icon=":material/draw:",
        )
        navigation.link(navigation.DRAW, _("Go to Draw"))
        st.stop()
    return *state.own_evaluation(entry), True


def headline(ev: Evaluation, own: bool) -> None:
    """Accuracy, mistakes and the hardest digit."""
    accuracy, mistakes, hardest = st.columns(3)
    accuracy.metric(
        _("Accuracy on your drawings") if own else _("Test accuracy"),
        f"{ev.accuracy:.2%}",
        border=True,
    )
    mistakes.metric(
        _("Mistakes"),
        _("{mistakes} of {total}").format(
            mistakes=f"{len(ev.mistakes()):,}", total=f"{len(ev.labels):,}"
        ),
        border=True,
    )
    worst = min((r for r in ev.per_class() if r["count"]), key=lambda r: r["accuracy"])
    hardest.metric(
        _("Hardest digit"),
        worst["digit"],
        _("{accuracy} right").format(accuracy=f"{worst['accuracy']:.1%}"),
        border=True,
        delta_color="off",
        delta_arrow="off",
    )


def file_stem(entry: ModelEntry, ev: Evaluation, own: bool) -> str:
    """The start of a download's file name: the model, and the digits it was tested on."""
    digits = "my-handwriting" if own else f"test-{len(ev.labels)}"
    return f"{export.file_stem(entry.name)}-{digits}"


def per_digit(ev: Evaluation, stem: str) -> None:
    """Accuracy per digit as a chart and a table (and the table as a CSV download)."""
    st.subheader(_("Per digit"))
    chart, table = st.columns([3, 2])
    rows = ev.per_class()
    chart.plotly_chart(charts.per_class_accuracy(rows), width="stretch", config=charts.CONFIG)
    with table:
        headers = {
            "digit": _("digit"),
            "count": _("count"),
            "correct": _("correct"),
            "accuracy": _("accuracy"),
            "precision": _("precision"),
            "recall": _("recall"),
        }
        widgets.table(
            pd.DataFrame(rows),
            percent=("accuracy", "precision", "recall"),
            labels=headers,
            key_column="digit",
        )
        widgets.csv_download(
            _("Download the per-digit table (CSV)"),
            lambda: export.per_digit_csv(ev),
            f"{stem}-per-digit.csv",
            key="eval_per_digit_csv",
            help=_("Accuracy, precision and recall as fractions from 0 to 1, with the counts."),
        )
    st.caption(
        _(
            "Accuracy (= recall): of the images of this digit, how many were recognised. "
            "Precision: of the images predicted as this digit, how many really were."
        )
    )


def confusion_matrix(ev: Evaluation, stem: str) -> tuple[int, int] | None:
    """The clickable confusion matrix (and its counts as a CSV download); returns the cell just
    clicked (true, predicted), if any."""
    st.subheader(_("Confusion matrix"))
    normalise = st.toggle(
        _("Show each row as percentages"),
        key="eval_normalise",
        help=_(
            "Each row then adds up to 100 %: what share of that digit's images got each answer."
        ),
    )
    clicked = st.plotly_chart(
        charts.confusion_heatmap(ev.confusion, normalise),
        key="confusion",
        on_select="rerun",
        selection_mode="points",
        width="stretch",
        config=charts.CONFIG,
    )
    st.caption(_("Click a cell to see the images behind it."))
    widgets.csv_download(
        _("Download the confusion matrix (CSV)"),
        lambda: export.confusion_csv(ev),
        f"{stem}-confusion.csv",
        key="eval_confusion_csv",
        help=_("The counts: a row for each true digit, a column for each predicted digit."),
    )
    points = clicked["selection"]["points"]
    return (points[0]["y"], points[0]["x"]) if points else None


def cell_picker(ev: Evaluation, clicked: tuple[int, int] | None) -> tuple[int, int]:
    """True and predicted digit boxes: a new click chooses them, then they are free to change."""
    if clicked != st.session_state.get("eval_clicked"):
        st.session_state.eval_clicked = clicked
        if clicked:
            st.session_state.eval_true, st.session_state.eval_pred = clicked
    # Start on the most frequent confusion.
    off_diagonal = ev.confusion - np.diag(np.diag(ev.confusion))
    busiest = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)
    st.session_state.setdefault("eval_true", int(busiest[0]))
    st.session_state.setdefault("eval_pred", int(busiest[1]))
    true_column, predicted_column, _rest = st.columns([1, 1, 4])
    true = true_column.selectbox(_("True digit"), DIGITS, key="eval_true")
    predicted = predicted_column.selectbox(_("Predicted as"), DIGITS, key="eval_pred")
    return true, predicted


def why(entry: ModelEntry, ev: Evaluation, x_test: np.ndarray, shown: np.ndarray) -> None:
    """For one image of the gallery, the pixels that pushed the model to its answer."""
    picked = st.selectbox(
        _("Why did it answer that? Pick one of these images"),
        range(len(shown)),
        format_func=lambda k: _("image {n}: {top_two}").format(
            n=k + 1, top_two=top_two(ev, shown[k])
        ),
        key="eval_why",
    )
    i = shown[min(picked, len(shown) - 1)]
    answer = int(ev.predictions[i])
    widgets.evidence_map(
        entry.model,
        x_test[i] / 255,
        answer,
        _("a {digit}, read as {answer}").format(digit=ev.labels[i], answer=answer),
    )


def alt_texts(ev: Evaluation, shown: np.ndarray, own: bool) -> list[str]:
    """What each image of a gallery is, for screen readers: the digit, and the answer."""
    text = (
        _("your drawing of a {digit}, read as {answer} ({confidence} sure)")
        if own
        else _("handwritten {digit}, a test digit, read as {answer} ({confidence} sure)")
    )
    return [
        text.format(
            digit=ev.labels[i], answer=ev.predictions[i], confidence=f"{ev.confidence[i]:.0%}"
        )
        for i in shown
    ]


def top_two(ev: Evaluation, i: int) -> str:
    """The two likeliest digits for image `i`, with their probabilities."""
    p = ev.probabilities[i]
    return " · ".join(f"{d}: {p[d]:.0%}" for d in np.argsort(-p)[:2])


st.title(_("Evaluate the model"))
widgets.explainer(
    _(
        "The model reads test digits it has never seen, and we count how often it is right. "
        "**Accuracy** per digit: of all the 7s, how many it called 7. **Precision**: of everything "
        "it called 7, how much really was a 7.\n\n"
        "The **confusion matrix** is a grid of every kind of answer: the true digit down the side, "
        "the model's answer along the top. The diagonal is the right answers; every other square "
        "is a kind of mistake, say 4s read as 9s. The darker a square, the more often it happened. "
        "Click one to see those images."
    )
)
entry = widgets.require_model()
lessons.evaluated(entry)  # a step on Home: a run of yours, evaluated
ev, x_test, own = digits_to_test(entry)
st.caption(
    _("{model} · {params} parameters · {summary}").format(
        model=state.display_name(entry.name), params=f"{entry.params:,}", summary=entry.summary
    )
)
headline(ev, own)
stem = file_stem(entry, ev, own)
per_digit(ev, stem)
true, predicted = cell_picker(ev, confusion_matrix(ev, stem))
in_cell = ev.cell(true, predicted)
st.markdown(
    (
        ngettext(
            "**{n} drawing of a {true} predicted as {predicted}**",
            "**{n} drawings of a {true} predicted as {predicted}**, most confident first",
            len(in_cell),
        )
        if own
        else ngettext(
            "**{n} test image of a {true} predicted as {predicted}**",
            "**{n} test images of a {true} predicted as {predicted}**, most confident first",
            len(in_cell),
        )
    ).format(n=f"{len(in_cell):,}", true=true, predicted=predicted)
)
widgets.digit_gallery(
    x_test[in_cell[:40]], [top_two(ev, i) for i in in_cell[:40]], alt_texts(ev, in_cell[:40], own)
)
if len(in_cell):
    why(entry, ev, x_test, in_cell[:40])

st.subheader(_("The most confident mistakes"))
wrong = ev.mistakes(30)
widgets.digit_gallery(
    x_test[wrong],
    [f"{ev.labels[i]} → {ev.predictions[i]} ({ev.confidence[i]:.0%})" for i in wrong],
    alt_texts(ev, wrong, own),
)
digit_map.evaluate_section(entry.model)
