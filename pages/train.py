"""Train: choose a network with sliders, train it while the charts move, compare runs."""

import streamlit as st

import mnist_core as mc
from ui import runs, state, streamlit_workarounds, train_settings

streamlit_workarounds.reroute_direct_page_run()
available = len(state.mnist().y_train)

st.title("Build and train a network")
preset = train_settings.preset_buttons(available)
settings, overview = st.columns([3, 2], gap="large")
with settings:
    config = train_settings.settings_form(available)

with overview:
    try:
        mc.validate(config, available)
    except mc.ConfigError as err:
        st.error(str(err), icon=":material/block:")
        estimate = None  # no network: nothing to train
    else:
        estimate = runs.network_overview(config)
    running = state.active_job()
    if st.button(
        "Train", type="primary", icon=":material/play_arrow:", width="stretch",
        disabled=estimate is None or running is not None,
        help="One training at a time, in all your tabs" if running else None,
    ):  # fmt: skip
        state.start_job(config, preset, estimate)
        st.rerun()  # the button and the sidebar show the run at once

if state.jobs():
    runs.live_run(running or state.jobs()[-1])
runs.run_history(state.jobs())
