"""Compare: two models side by side, digit by digit, and the test digits only one gets right."""

import numpy as np
import streamlit as st

from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.data import evaluation_indices
from mnist_core.engine import transforms
from mnist_core.engine.evaluation import Evaluation
from mnist_core.i18n import _
from mnist_core.presentation import charts, compare_charts
from ui import state, streamlit_workarounds, widgets

streamlit_workarounds.reroute_direct_page_run()


def model_pickers(entries: dict[str, ModelEntry]) -> tuple[ModelEntry, ModelEntry]:
    """Two model boxes: A starts on the current model, B on another one."""
    names = list(entries)
    current = state.current_model().name
    left, right = st.columns(2)
    a = left.selectbox(
        _("Model A"),
        names,
        index=names.index(current),
        key="compare_a",
        format_func=state.display_name,
    )
    others = [name for name in names if name != a] or names
    b = right.selectbox(_("Model B"), others, key="compare_b", format_func=state.display_name)
    return entries[a], entries[b]


def headline(a: ModelEntry, b: ModelEntry, ev_a: Evaluation, ev_b: Evaluation):
    """Each model's test accuracy and the difference."""
    first, second, change = st.columns(3)
    first.metric(
        _("A: {model}").format(model=state.display_name(a.name)),
        f"{ev_a.accuracy:.2%}",
        border=True,
    )
    second.metric(
        _("B: {model}").format(model=state.display_name(b.name)),
        f"{ev_b.accuracy:.2%}",
        border=True,
    )
    gained = ev_b.accuracy - ev_a.accuracy
    read_right = (ev_b.predictions == ev_b.labels).sum() - (ev_a.predictions == ev_a.labels).sum()
    change.metric(
        _("B against A"),
        _("{points} points").format(points=f"{gained * 100:+.2f}"),
        _("{change} digits read right").format(change=f"{read_right:+,}"),
        border=True,
    )


def per_digit(names: tuple[str, str], ev_a: Evaluation, ev_b: Evaluation) -> None:
    """Per-digit accuracy side by side, and the change."""
    rows_a, rows_b = ev_a.per_class(), ev_b.per_class()
    chart, table = st.columns([3, 2])
    chart.plotly_chart(
        compare_charts.compare_per_digit(rows_a, rows_b, names),
        width="stretch",
        config=charts.CONFIG,
    )
    with table:
        widgets.table(
            [
                {
                    _("digit"): ra["digit"],
                    "A": ra["accuracy"],
                    "B": rb["accuracy"],
                    _("B − A (points)"): 100 * (rb["accuracy"] - ra["accuracy"]),
                }
                for ra, rb in zip(rows_a, rows_b)
            ],
            percent=("A", "B"),
            formats={_("B − A (points)"): "%+.2f"},
            key_column=_("digit"),
        )


def alt_text(theirs: Evaluation, i: int, right: str, wrong: str) -> str:
    """Test digit `i` for screen readers: what it is, and what each model reads."""
    return _(
        "handwritten {digit}, test digit #{index}: {right} reads it right, {wrong} says {answer}"
    ).format(
        digit=theirs.labels[i], index=i, right=right, wrong=wrong, answer=theirs.predictions[i]
    )


def disagreements(x_test: np.ndarray, ev_a: Evaluation, ev_b: Evaluation) -> None:
    """The test digits one model reads right and the other wrong."""
    right_a, right_b = ev_a.predictions == ev_a.labels, ev_b.predictions == ev_b.labels
    only_a, only_b = st.columns(2)
    for column, mine, other, label, them, theirs in (
        (only_a, right_a, right_b, "A", "B", ev_b),
        (only_b, right_b, right_a, "B", "A", ev_a),
    ):
        picked = np.flatnonzero(mine & ~other)
        with column:
            st.markdown(
                _("**{n} digits only {model} reads right**").format(
                    n=f"{len(picked):,}", model=label
                )
            )
            widgets.digit_gallery(
                x_test[picked[:30]],
                [
                    _("a {digit}; {model} says {answer}").format(
                        digit=theirs.labels[i], model=them, answer=theirs.predictions[i]
                    )
                    for i in picked[:30]
                ],
                [alt_text(theirs, i, label, them) for i in picked[:30]],
            )


SWEEP_DIGITS = 500  # test digits turned and moved: enough for a smooth curve in a few seconds


def turned_and_moved(a: ModelEntry, b: ModelEntry, names: tuple[str, str]) -> None:
    """Both models' accuracy on the same test digits turned and moved sideways."""
    data = state.mnist()
    indices = evaluation_indices(data, SWEEP_DIGITS)
    images = data.x_test[indices].astype(np.float32) / 255
    labels = data.y_test[indices]
    st.caption(
        _(
            "The same {n} test digits turned and moved, read by both models. MNIST's digits are "
            "upright and centred: a network of dense layers only knows each pixel's place, so "
            "moving a digit by a few pixels loses it, while a convolutional network's filters "
            "find their patterns wherever they are."
        ).format(n=SWEEP_DIGITS)
    )
    for column, kind in zip(st.columns(2), transforms.ACCURACY_SWEEPS):
        sweeps = tuple(
            state.remembered(
                f"compare_{kind}_{slot}",
                transforms.accuracy_sweep,
                entry.model,
                images,
                labels,
                kind,
            )
            for slot, entry in (("a", a), ("b", b))
        )
        column.plotly_chart(
            compare_charts.accuracy_sweeps(sweeps, names), width="stretch", config=charts.CONFIG
        )
        unmoved = int(np.flatnonzero(sweeps[0].values == 0)[0])
        column.caption(
            _("At the widest: A reads {a} of them, B {b} (untouched: A {a0}, B {b0}).").format(
                a=f"{min(sweeps[0].accuracy[[0, -1]]):.0%}",
                b=f"{min(sweeps[1].accuracy[[0, -1]]):.0%}",
                a0=f"{sweeps[0].accuracy[unmoved]:.0%}",
                b0=f"{sweeps[1].accuracy[unmoved]:.0%}",
            )
        )


st.title(_("Compare two models"))
widgets.explainer(
    _(
        "Pick two models, say the network you just trained and the ready-made one. Both read "
        "the same 10,000 test digits, which neither has ever seen. The bars show how often each "
        "reads each digit right. The coloured grid shows what changed from A to B: each square "
        "is one kind of answer (true digit down the side, answer along the top); purple and a "
        "+ mean B does better there (more right answers, or fewer of that mistake), orange and "
        "a − worse, by that many images. At the bottom are the digits only one of the two reads "
        "right."
    )
)
entries = state.model_entries()
if len(entries) < 2:
    st.info(
        _("Comparing needs two models: train one on the Train page (or load one in the sidebar)."),
        icon=":material/info:",
    )
    st.stop()
a, b = model_pickers(entries)
n = len(state.mnist().y_test)
ev_a, x_test = state.evaluation(a, n)
ev_b, _x_test = state.evaluation(b, n)
names = (
    _("A: {model}").format(model=state.display_name(a.name)),
    _("B: {model}").format(model=state.display_name(b.name)),
)
headline(a, b, ev_a, ev_b)
per_digit(names, ev_a, ev_b)

st.subheader(_("What changed from A to B"))
st.plotly_chart(
    compare_charts.confusion_difference(ev_a.confusion, ev_b.confusion, names),
    width="stretch",
    config=charts.CONFIG,
)
if a.history and b.history:
    st.subheader(_("Their training, side by side"))
    st.plotly_chart(
        charts.runs_overlay(
            {state.display_name(a.name): a.history, state.display_name(b.name): b.history}
        ),
        config=charts.CONFIG,
    )

# Computed only while open: turning and moving 500 digits takes both models a few seconds.
if moved := widgets.open_expander(
    _("Turned and moved: which one still reads them?"), ":material/rotate_right:", "compare_sweeps"
):
    with moved:
        turned_and_moved(a, b, names)

st.subheader(_("Where they disagree"))
disagreements(x_test, ev_a, ev_b)
