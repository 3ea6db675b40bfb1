"""Train: choose a network with sliders, train it while the charts move, compare runs."""

import functools

import pandas as pd
import streamlit as st

import mnist_core as mc
from pages import common

FILTERS = [2, 4, 8, 16, 32, 64, 128]
KERNELS = [1, 3, 5, 7]
DENSE = [0, 16, 32, 64, 128, 256, 512]
RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
BATCHES = [16, 32, 64, 128, 256, 512, 1024, 2048]

data = common.data()
available = len(data.y_train)


def widget_values(config: mc.TrainConfig) -> dict:
    """The widget state that shows `config`."""
    values = {f"hp_{name}": value for name, value in config.to_dict().items()}
    values["hp_blocks"] = config.conv_blocks
    for i in range(3):
        values[f"hp_filters{i}"] = (*config.filters, 32, 64, 128)[i]
        values[f"hp_kernel{i}"] = (*config.kernel_sizes, 3, 3, 3)[i]
    del values["hp_filters"], values["hp_kernel_sizes"]
    return values


def config_from_widgets() -> mc.TrainConfig:
    """The config the widgets show."""
    s = st.session_state
    n = s.hp_blocks
    fields = {k.removeprefix("hp_"): v for k, v in s.items() if k.startswith("hp_")}
    fields = {k: v for k, v in fields.items() if k in mc.TrainConfig.__dataclass_fields__}
    return mc.TrainConfig(
        **fields,
        filters=tuple(s[f"hp_filters{i}"] for i in range(n)),
        kernel_sizes=tuple(s[f"hp_kernel{i}"] for i in range(n)),
    )


def apply_preset(name: str) -> None:
    """Set every widget to a preset, sized to the data at hand."""
    st.session_state.update(widget_values(mc.PRESETS[name].fit_to(available)))


def matching_preset() -> str:
    """The preset the widgets show, or "custom" once any of them was changed."""
    config = config_from_widgets()
    matches = (name for name, preset in mc.PRESETS.items() if preset.fit_to(available) == config)
    return next(matches, "custom")


if "hp_blocks" not in st.session_state:
    apply_preset("codelab")

# Widgets keep their values when the user visits other pages.
widget = functools.partial(dict, persist_state="session")
PRESET_HELP = {
    "codelab": "The TensorFlow.js codelab's network and training",
    "fast": "A good result in well under a minute",
    "best": "The most accurate: 99.5 % on the test set, about 10 minutes here",
}

st.title("Build and train a network")
# Buttons rather than a selector: a selector whose value callbacks rewrite loses quick changes.
preset = matching_preset()
*buttons, label = st.columns([1, 1, 1, 5], vertical_alignment="center")
for column, name in zip(buttons, mc.PRESETS):
    column.button(
        name, key=f"preset_{name}", width="stretch", help=PRESET_HELP[name],
        type="primary" if name == preset else "secondary",
        on_click=apply_preset, args=(name,),
    )  # fmt: skip
label.caption(
    "Custom settings"
    if preset == "custom"
    else f"The **{preset}** preset: move any slider to change it"
)

settings, overview = st.columns([3, 2], gap="large")
with settings:
    network, training = st.tabs(["Network", "Training"])
    with network:
        st.slider("Conv blocks", 1, 3, key="hp_blocks", **widget())
        for i, column in enumerate(st.columns(3)):
            with column:
                off = i >= st.session_state.hp_blocks
                st.select_slider(
                    f"Block {i + 1} filters",
                    FILTERS,
                    key=f"hp_filters{i}",
                    disabled=off,
                    **widget(),
                )
                st.select_slider(
                    f"Block {i + 1} kernel", KERNELS, key=f"hp_kernel{i}", disabled=off,
                    format_func=lambda k: f"{k}×{k}", **widget(),
                )  # fmt: skip
        a, b, c = st.columns(3)
        a.selectbox("Stride", [1, 2, 3], key="hp_strides", **widget())
        b.selectbox("Padding", mc.config.PADDINGS, key="hp_padding", **widget())
        c.selectbox("Pooling (2×2)", mc.config.POOLINGS, key="hp_pooling", **widget())
        a.selectbox("Activation", mc.config.ACTIVATIONS, key="hp_activation", **widget())
        b.select_slider(
            "Hidden dense units", DENSE, key="hp_dense_units",
            format_func=lambda units: str(units) if units else "none", **widget(),
        )  # fmt: skip
        c.slider("Dropout", 0.0, 0.7, step=0.05, key="hp_dropout", **widget())
        st.toggle("Batch normalisation", key="hp_batch_norm", **widget())
    with training:
        a, b, c = st.columns(3)
        a.selectbox("Optimizer", mc.config.OPTIMIZERS, key="hp_optimizer", **widget())
        b.select_slider("Learning rate", RATES, key="hp_learning_rate", **widget())
        c.selectbox("Schedule", mc.config.LR_SCHEDULES, key="hp_lr_schedule", **widget())
        a.select_slider("Batch size", BATCHES, key="hp_batch_size", **widget())
        b.slider("Epochs", 1, 50, key="hp_epochs", **widget())
        c.number_input("Seed", 0, 10**6, key="hp_seed", **widget())
        a, b = st.columns(2)
        a.slider("Training digits", 100, available, step=100, key="hp_train_size", **widget())
        b.slider("Validation digits", 0, available // 5, step=100, key="hp_val_size", **widget())
        st.markdown("**Augmentation** (random changes to each training image)")
        a, b, c = st.columns(3)
        a.slider("Shift", 0.0, 0.3, step=0.05, key="hp_shift", format="%.2f", **widget())
        b.slider("Rotation (°)", 0.0, 30.0, step=5.0, key="hp_rotation", **widget())
        c.slider("Zoom", 0.0, 0.3, step=0.05, key="hp_zoom", format="%.2f", **widget())

config = config_from_widgets()
try:
    mc.validate(config, available)
    problem = None
except mc.ConfigError as err:
    problem = str(err)


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(config: mc.TrainConfig) -> pd.DataFrame:
    """The layers of `config`'s network as a table."""
    rows = mc.summarize(mc.build_model(config))
    return pd.DataFrame(
        {
            "layer": [r.name for r in rows],
            "type": [r.kind for r in rows],
            "output shape": [" × ".join(str(d) for d in r.output_shape[1:]) for r in rows],
            "parameters": [r.params for r in rows],
        }
    )


@st.cache_resource(show_spinner="Measuring this server's speed (once)…")
def server_speed() -> tuple[float, float]:
    """Multiply-accumulates per second and seconds per batch, measured once per server."""
    return mc.measure_speed(data)


job = common.active_job()
with overview:
    if problem:
        st.error(problem, icon=":material/block:")
    else:
        table = layer_table(config)
        st.dataframe(table, hide_index=True, width="stretch")
        seconds = mc.estimate_epoch_seconds(config, *server_speed())
        st.markdown(
            f"**{table['parameters'].sum():,} parameters** · about **{seconds:,.1f} s per epoch** "
            f"on this server ({seconds * config.epochs:,.0f} s for {config.epochs} epochs)"
        )
    if st.button(
        "Train", type="primary", icon=":material/play_arrow:", width="stretch",
        disabled=problem is not None or job is not None,
        help="One training at a time per session" if job else None,
    ):  # fmt: skip
        name = f"Run {len(common.jobs()) + 1} ({preset})"
        common.jobs().append(mc.TrainingJob(name, config, data, common.training_slots()).start())
        st.rerun()  # the button and the sidebar show the run at once


def progress_text(view: mc.JobView) -> str:
    last = view.batches[-1]
    return (
        f"Epoch {last.epoch}/{last.epochs} · batch {last.batch}/{last.batches} · "
        f"{last.images_per_s:,.0f} images/s · {last.elapsed:,.0f} s elapsed · "
        f"about {last.eta:,.0f} s left"
    )


def epoch_table(view: mc.JobView) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "epoch": e.epoch if not e.partial else f"{e.epoch} (stopped)",
                "loss": e.loss,
                "accuracy": e.accuracy,
                "val loss": e.val_loss,
                "val accuracy": e.val_accuracy,
                "seconds": e.seconds,
            }
            for e in view.epochs
        ]
    )


def outcome(job: mc.TrainingJob) -> None:
    """One line on how a finished run ended."""
    if job.state == "failed":
        st.error(f"{job.name} failed: {job.error}")
    elif job.state == "cancelled":
        st.warning(f"{job.name} was cancelled before it started.")
    else:
        epochs = job.result.history
        done = len(epochs) - (1 if epochs and epochs[-1].partial else 0)
        val = epochs[-1].val_accuracy if epochs else None
        verb = "stopped after" if job.state == "stopped" else "finished"
        st.success(
            f"{job.name} {verb} {done} full epoch(s) in {job.result.fit_seconds:,.1f} s · "
            + (f"validation {val:.2%} · " if val is not None else "")
            + f"test {job.evaluation.accuracy:.2%} on {len(job.evaluation.labels):,} digits. "
            "It is now the current model for Evaluate and Draw.",
            icon=":material/check_circle:",
        )


shown = job or (common.jobs()[-1] if common.jobs() else None)


@st.fragment(run_every=1.0 if job is not None else None)
def live(job: mc.TrainingJob, was_running: bool) -> None:
    """Progress, live charts and the epoch table, redrawn on a timer, never from training."""
    if job.finished and was_running:
        st.rerun()  # the whole page: the run joins the history and the timer stops
    view = job.view()
    if view.state == "waiting":
        busy = common.training_slots()
        st.info(
            f"Waiting for a free training slot: {busy.running} of {busy.limit} in use on this "
            "server. Your run starts as soon as one frees up.",
            icon=":material/hourglass_top:",
        )
        st.button("Cancel", on_click=job.stop, key=f"cancel_{job.name}")
        return
    if not job.finished:
        bar, stop = st.columns([5, 1], vertical_alignment="bottom")
        fraction, label = 0.0, "Starting…"
        if view.batches:
            last = view.batches[-1]
            fraction, label = last.step / (last.batches * last.epochs), progress_text(view)
        if job.stopping:
            label = "Stopping after this batch…"
        bar.progress(fraction, text=label)
        stop.button("Stop", icon=":material/stop:", on_click=job.stop, key=f"stop_{job.name}")
    else:
        outcome(job)
    st.plotly_chart(mc.charts.training_curves(view.batches, view.epochs), key=f"curves_{job.name}")
    if view.epochs:
        st.dataframe(epoch_table(view), hide_index=True, width="stretch")


if shown is not None:
    st.subheader(shown.name)
    live(shown, job is not None)

finished = [j for j in common.jobs() if j.finished]
if finished:
    st.subheader("Run history")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "run": j.name,
                    "outcome": j.state,
                    "network": j.config.summary(),
                    "parameters": j.result.model.count_params() if j.result else None,
                    "epochs": len(j.result.history) if j.result else 0,
                    "seconds": j.result.fit_seconds if j.result else None,
                    "val accuracy": j.result.history[-1].val_accuracy
                    if j.result and j.result.history
                    else None,
                    "test accuracy": j.evaluation.accuracy if j.evaluation else None,
                }
                for j in finished
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "seconds": st.column_config.NumberColumn(format="%.1f"),
            "val accuracy": st.column_config.NumberColumn(format="percent"),
            "test accuracy": st.column_config.NumberColumn(format="percent"),
        },
    )
    curves = {j.name: j.result.history for j in finished if j.result and j.result.history}
    if curves:
        st.plotly_chart(mc.charts.runs_overlay(curves), width="stretch")
    st.caption("Pick the model that Evaluate and Draw use in the sidebar.")

with st.expander("Load a saved model (.keras)", icon=":material/upload:"):
    upload = st.file_uploader(
        "A model downloaded from Digit Lab, or any Keras model taking 28×28×1 digits and "
        "giving 10 classes",
        type=["keras"],
        max_upload_size=50,
        key="model_upload",
    )
    if upload is not None and upload.file_id != st.session_state.get("model_upload_done"):
        try:
            common.add_upload(upload.name, upload.getvalue())
        except mc.ModelFileError as err:
            st.error(str(err), icon=":material/error:")
        else:
            st.session_state.model_upload_done = upload.file_id
            st.rerun()  # the sidebar shows the new current model
    elif upload is not None:
        st.success(f"Loaded {upload.name}: it is in the sidebar's model list.")
