"""Train's overview of the network being set up: its layers, size and time estimate."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.config import TrainConfig, network_layers
from mnist_core.i18n import _, ngettext
from ui import state, widgets


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(config: TrainConfig) -> pd.DataFrame:
    """The layers of `config`'s network as a table (English headers; shown translated)."""
    rows = network_layers(config)
    return pd.DataFrame(
        {
            "layer": [r.name for r in rows],
            "type": [r.kind for r in rows],
            "output shape": [" × ".join(str(d) for d in r.output_shape[1:]) for r in rows],
            "parameters": [r.params for r in rows],
        }
    )


def network_overview(config: TrainConfig) -> None:
    """The layer table and parameter count of a config that can be built, and the time
    estimate once this server's speed is known (measured once, in the background)."""
    table = layer_table(config)
    widgets.table(table, labels=widgets.column_labels(table))
    waiting = not state.warmup().done
    st.fragment(_estimate, run_every=ESTIMATE_POLL if waiting else None)(
        config, int(table["parameters"].sum()), waiting
    )


ESTIMATE_POLL = 1.0  # seconds between looks at the speed calibration, until it is done


def _estimate(config: TrainConfig, params: int, was_waiting: bool) -> None:
    warmup = state.warmup()
    # Read once: the speed is set a moment before the warm-up is done, and an estimate shown
    # then, followed by the rerun below, would redraw the page under a keyboard user's focus.
    done = warmup.done
    if done and was_waiting:
        st.rerun()  # the whole page, so that this stops polling
    if not done:
        st.markdown(
            _("**{params:,} parameters** · estimating this server's speed…").format(params=params)
        )
        return
    if warmup.error is not None:
        st.markdown(_("**{params:,} parameters**").format(params=params))
        st.warning(
            _("No time estimate: measuring this server's speed failed ({error}).").format(
                error=warmup.error
            ),
            icon=":material/warning:",
        )
        return
    seconds = warmup.speed.estimate_epoch(config)
    total = warmup.speed.estimate(config)
    st.markdown(
        ngettext(
            "**{params:,} parameters** · about **{seconds:,.1f} s per epoch** on this server "
            "({total:,.0f} s for {epochs} epoch, {start:,.0f} s of it to start)",
            "**{params:,} parameters** · about **{seconds:,.1f} s per epoch** on this server "
            "({total:,.0f} s for {epochs} epochs, {start:,.0f} s of it to start)",
            config.epochs,
        ).format(
            params=params,
            seconds=seconds,
            total=total,
            epochs=config.epochs,
            start=total - seconds * config.epochs,
        ),
        help=_(
            "From one short training timed when the server started, then corrected after each run "
            "that trains all its epochs by how long it really took, so it follows how busy the "
            "server is. Time waiting in the queue comes on top."
        ),
    )
