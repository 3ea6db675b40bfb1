"""Train: choose a network with sliders, train it while the charts move, compare runs."""

import streamlit as st

from mnist_core.classroom.lessons import Lesson
from mnist_core.config import ConfigError, TrainConfig, validate
from mnist_core.i18n import _
from mnist_core.presentation.codegen import script_for
from ui import (
    accessibility,
    lessons,
    run_history,
    runs,
    state,
    streamlit_workarounds,
    train_overview,
    train_settings,
    widgets,
)

streamlit_workarounds.reroute_direct_page_run()
available = len(state.mnist().y_train)


def train_button(config: TrainConfig, preset: str, buildable: bool, lesson: Lesson | None) -> None:
    """Train with these settings; the new run's heading takes the keyboard focus."""
    running = state.active_job()
    if st.button(
        _("Train"),
        type="primary",
        icon=":material/play_arrow:",
        width="stretch",
        disabled=not buildable or running is not None,
        help=_("One training at a time, in all your tabs") if running else None,
    ):
        if (job := state.start_job(config, preset, lesson)) is not None:
            accessibility.focus_after_rerun(runs.RUN_HEADING, job.name)
        st.rerun()  # the button and the sidebar show the run at once


st.title(_("Build and train a network"), anchor=False)
# The page's main action first, drawn once the settings below are read: a few Tab presses
# away, and on a phone's first screen.
action, _rest = st.columns([2, 3])
widgets.explainer(
    _(
        "A *convolutional neural network* reads a digit in layers. Each layer has **filters**: "
        "small pattern detectors (say 5 × 5 pixels) that slide over the image and light up where "
        "they find their pattern, a stroke, a curve, a corner. Training starts them at random and "
        "nudges them, batch after batch, towards patterns that tell the digits apart. One pass "
        "through all the training digits is an **epoch**.\n\n"
        "While it trains, the curves show the **loss** (how wrong it is; lower is better) and the "
        "**accuracy** (how often it is right), on the training digits and on the **validation** "
        "digits, a set it never learns from. If training accuracy keeps climbing while validation "
        "accuracy stalls or drops, the network is **overfitting**: learning its training digits "
        "by heart instead of learning to read. The coloured grid shows, epoch by epoch, how well "
        "it reads each digit: some are learned at once, others lag behind."
    )
)
train_settings.follow_link(available)  # before the widgets: a shared link sets them
lesson = lessons.follow(available)  # a lesson link shows only its settings, and a goal
if lesson is not None:
    lessons.goal_card(lesson)
preset = (
    train_settings.preset_buttons(available)
    if lesson is None
    else train_settings.matching_preset(available)
)
train_settings.link_problems()
settings, overview = st.columns([3, 2], gap="large")
with settings:
    if lesson is None:
        config = train_settings.settings_form(available)
    else:
        config = lessons.settings(lesson, available)
train_settings.keep_in_link(config)

with overview:
    try:
        validate(config, available)
    except ConfigError as err:
        st.error(str(err), icon=":material/block:")
        buildable = False  # no network: nothing to train
    else:
        buildable = True
        train_overview.network_overview(config)
    train_settings.share_link(config)
    if lesson is None:
        lessons.link_maker(config)
with action:
    train_button(config, preset, buildable, lesson)

# Written only while the expander is open: opening or closing it reruns the page.
if buildable and (
    code := widgets.open_expander(_("Show the code"), ":material/code:", "show_code")
):
    file_name = f"digit_lab_{preset}.py"
    with code:
        st.caption(
            _(
                "These settings as a standalone Keras script, the way the Keras examples "
                "are written: the same network, the same training and validation digits "
                "of full MNIST, the same training. Run it with `python {file}` wherever "
                "Keras is installed."
            ).format(file=file_name)
        )
        script = script_for(config, preset)
        st.download_button(
            _("Download the script"),
            data=script,
            file_name=file_name,
            mime="text/x-python",
            icon=":material/download:",
            on_click="ignore",
        )
        st.code(script, language="python")

if state.jobs():
    shown = state.active_job() or state.jobs()[-1]
    lessons.verdict(shown)
    runs.live_run(shown)
run_history.run_history(state.jobs())
