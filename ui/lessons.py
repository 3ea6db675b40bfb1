"""Lessons on screen: making a lesson link, a Train page in a lesson, its verdicts, and the
codelab's steps on Home (a lesson's board: ui/lesson_board.py; the lessons themselves:
mnist_core/classroom/lessons.py)."""

from __future__ import annotations

import streamlit as st

from mnist_core import config as cfg
from mnist_core.classroom import lessons as core
from mnist_core.classroom import links
from mnist_core.classroom.jobs import TrainingJob
from mnist_core.classroom.lessons import Goal, Lesson
from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.config import TrainConfig
from mnist_core.i18n import N_, _
from ui import language, navigation, state, train_settings, widgets

ACTIVE = "lesson"  # this session's lesson, once a lesson link opened it
_SEEN = "lesson_links_seen"  # the lesson queries this session read or wrote itself
_PROBLEMS = "lesson_problems"  # what the lesson link just opened had to ignore
_PER_BLOCK = ("filters", "kernel_sizes")
# Every setting's name as the lesson pages show it (the Train form's labels where it has one).
LABELS = {
    "filters": N_("Filters per block"),
    "kernel_sizes": N_("Kernel size per block"),
    "strides": N_("Stride"),
    "padding": N_("Padding"),
    "pooling": N_("Pooling (2×2)"),
    "activation": N_("Activation"),
    "batch_norm": N_("Batch normalisation"),
    "dropout": N_("Dropout"),
    "dense_units": N_("Hidden dense units"),
    "optimizer": N_("Optimizer"),
    "learning_rate": N_("Learning rate"),
    "lr_schedule": N_("Schedule"),
    "batch_size": N_("Batch size"),
    "epochs": N_("Epochs"),
    "train_size": N_("Training digits"),
    "val_size": N_("Validation digits"),
    "shift": N_("Shift"),
    "rotation": N_("Rotation (°)"),
    "zoom": N_("Zoom"),
    "seed": N_("Seed"),
    "label_smoothing": N_("Label smoothing"),
}
_CHOICES = {  # settings shown as a choice among values: the widget, and the values
    "strides": ("selectbox", cfg.STRIDES),
    "padding": ("selectbox", cfg.PADDINGS),
    "pooling": ("selectbox", cfg.POOLINGS),
    "activation": ("selectbox", cfg.ACTIVATIONS),
    "optimizer": ("selectbox", cfg.OPTIMIZERS),
    "lr_schedule": ("selectbox", cfg.LR_SCHEDULES),
    "dense_units": ("select_slider", cfg.DENSE),
    "learning_rate": ("select_slider", cfg.RATES),
    "batch_size": ("select_slider", cfg.BATCHES),
}


# --- the Train page in a lesson ---------------------------------------------------------------


def follow(available: int) -> Lesson | None:
    """The lesson this session is in: a lesson link not seen yet opens it (its settings shown),
    and the URL keeps carrying it. Call after train_settings.follow_link, before the widgets."""
    given = {name: st.query_params[name] for name in core.PARAMS if name in st.query_params}
    seen = st.session_state.setdefault(_SEEN, set())
    if given and frozenset(given.items()) not in seen:
        seen.add(frozenset(given.items()))
        settings = {name: st.query_params[name] for name in st.query_params}
        lesson, problems = core.from_params(settings, available)
        train_settings.show(lesson.config)
        st.session_state[ACTIVE], st.session_state[_PROBLEMS] = lesson, problems
    lesson = st.session_state.get(ACTIVE)
    if lesson is not None:
        _keep_in_link(lesson)
    return lesson


def _keep_in_link(lesson: Lesson) -> None:
    """Write the lesson's own parameters into the URL (a page switch drops them)."""
    params = lesson.params()
    st.session_state.setdefault(_SEEN, set()).add(frozenset(params.items()))
    if any(st.query_params.get(name) != value for name, value in params.items()):
        st.query_params.update(params)


def leave() -> None:
    """Back to the whole Train page; the lesson's link opens the lesson again."""
    lesson = st.session_state.pop(ACTIVE, None)
    st.session_state.pop(_PROBLEMS, None)
    if lesson is not None:
        st.session_state.get(_SEEN, set()).discard(frozenset(lesson.params().items()))
    for name in core.PARAMS:
        st.query_params.pop(name, None)


def goal_card(lesson: Lesson) -> None:
    """The lesson's task and goal, what its link had to ignore, and the way out."""
    with st.container(border=True, key="goal_card"):
        st.subheader(_("Goal"), anchor=False)
        if task := core.task_text(lesson):
            st.markdown(widgets.plain(task))
        parts = lesson.goal.parts()
        if parts:
            st.markdown(_("A run meets the goal with:") + "".join(f"\n- {p}" for p in parts))
        else:
            st.markdown(_("This lesson sets no goal: train and see what the settings do."))
        problems = st.session_state.get(_PROBLEMS)
        if problems:
            intro = _("This lesson link has values the page cannot use; it ignores them:")
            lines = "".join(f"\n- {problem.message}" for problem in problems)
            st.warning(intro + lines, icon=":material/link:")
        left, right = st.columns(2)
        with left:
            navigation.link(navigation.BOARD, _("This lesson's board"))
        right.button(
            _("Leave the lesson"), icon=":material/logout:", on_click=leave, key="leave_lesson"
        )


def settings(lesson: Lesson, available: int) -> TrainConfig:
    """The settings the lesson lets students change, open, and the fixed ones in words; returns
    the lesson's config with the students' changes."""
    if not lesson.show:
        st.markdown(_("This lesson fixes every setting: press **Train**."))
    blocks = lesson.config.conv_blocks
    if set(_PER_BLOCK) <= set(lesson.show):  # the number of blocks is theirs to choose too
        st.slider(
            _("Conv blocks"),
            0,
            cfg.MAX_BLOCKS,
            key=train_settings.BLOCKS_KEY,
            help=train_settings.help_text("blocks"),
            **train_settings.PERSIST,
        )
        blocks = st.session_state[train_settings.BLOCKS_KEY]
    changes = {}
    for field in lesson.show:
        if field in _PER_BLOCK:
            changes[field] = _per_block(field, blocks)
        else:
            _widget(field, available)
            changes[field] = st.session_state[train_settings.widget_key(field)]
    st.caption(_("Fixed by the lesson: {settings}.").format(settings=_fixed_text(lesson)))
    return lesson.with_changes(changes)


def _per_block(field: str, blocks: int) -> tuple:
    """One widget for each conv block of a per-block field; their values."""
    if not blocks:  # a network without conv blocks (the dense preset): nothing to choose
        return ()
    for i, column in enumerate(st.columns(blocks)):
        train_settings.block_choice(column, field, i)
    return tuple(st.session_state[train_settings.block_key(field, i)] for i in range(blocks))


def _widget(field: str, available: int) -> None:
    """The widget of one setting, keyed as the Train form keys it."""
    common = dict(
        key=train_settings.widget_key(field),
        help=train_settings.help_text(field),
        **train_settings.PERSIST,
    )
    label = _(LABELS[field])
    if field in _CHOICES:
        kind, values = _CHOICES[field]
        getattr(st, kind)(label, values, format_func=_value_text(field), **common)
    elif field == "batch_norm":
        st.toggle(label, **common)
    else:
        span = {**cfg.SPANS, **cfg.size_spans(available)}[field]
        kind = "number_input" if field == "seed" else "slider"
        getattr(st, kind)(label, span.low, span.high, step=span.step, **common)


def _value_text(field: str):
    """How a value of `field` reads on screen."""
    if field in ("pooling", "lr_schedule"):
        return train_settings.option_label
    if field == "dense_units":
        return lambda units: str(units) if units else _("none")
    if field == "batch_norm":
        return lambda on: _("on") if on else _("off")
    if field == "kernel_sizes":
        return lambda sizes: ", ".join(f"{k}×{k}" for k in sizes)
    return lambda value: ", ".join(map(str, value)) if isinstance(value, tuple) else f"{value}"


def _fixed_text(lesson: Lesson) -> str:
    """Every setting the lesson fixes, with its value, in one line."""
    return " · ".join(
        f"{_(LABELS[name])}: {_value_text(name)(getattr(lesson.config, name))}"
        for name in lesson.fixed
    )


def verdict(job: TrainingJob) -> None:
    """A finished lesson run against the goal: met or not, each part and by how much."""
    judged = state.workspace().verdict(job)
    if judged is None:
        return
    heading = _("Goal met") if judged.met else _("Goal not met")
    text = f"**{heading}**" + "".join(f"\n- {check.message}" for check in judged.checks)
    if judged.met:
        st.success(text, icon=":material/emoji_events:")
    else:
        st.warning(text, icon=":material/flag:")


def link_maker(config: TrainConfig) -> None:
    """A teacher's form: these settings as a lesson, with the students' link and the board's."""
    with st.expander(_("Make a lesson link"), icon=":material/school:"):
        st.caption(
            _(
                "Hand these settings out as a lesson: students see only the settings you pick, "
                "open, with your task and goal, and each run is judged against the goal. Runs "
                "they publish go to the lesson's own board."
            )
        )
        show = st.multiselect(
            _("Settings students may change"),
            links.FIELDS,
            key="lesson_show",
            format_func=lambda field: _(LABELS[field]),
        )
        task = st.text_input(
            _("The task, in a line"),
            max_chars=core.MAX_TASK_CHARS,
            key="lesson_task",
            placeholder=_("e.g. Reach 97 % with as few parameters as you can."),
        )
        st.markdown(_("**Goal** (leave a box empty to leave that part out)"))
        left, middle, right = st.columns(3)
        accuracy = left.number_input(
            _("Test accuracy, at least (%)"),
            1.0,
            100.0,
            value=None,
            step=0.5,
            key="lesson_goal_accuracy",
        )
        params = middle.number_input(
            _("Parameters, at most"), 1, 10**8, value=None, step=1000, key="lesson_goal_params"
        )
        seconds = right.number_input(
            _("Training seconds, at most"),
            1.0,
            3600.0,
            value=None,
            step=5.0,
            key="lesson_goal_seconds",
        )
        goal = Goal(None if accuracy is None else accuracy / 100, params, seconds)
        lesson = Lesson(config, tuple(show), goal, core.clean_task(task))
        query = lesson.query(language.current())
        page = st.context.url or ""
        st.markdown(_("**The students' link** (the Train page, in this lesson)"))
        st.code(f"{page}?{query}", language=None, wrap_lines=True)
        board = f"{page.rsplit('/', 1)[0]}/{navigation.BOARD.url_path}" if page else ""
        st.markdown(_("**The lesson's board**: the runs published from it, and how they did"))
        st.code(f"{board}?{query}", language=None, wrap_lines=True)


# --- Home: the codelab, step by step ----------------------------------------------------------


def visited(page: navigation.PageSpec) -> None:
    """Note that this workspace opened `page` (a step on Home may ask for it)."""
    state.workspace().visited.add(page.url_path)


def evaluated(entry: ModelEntry) -> None:
    """Note that Evaluate showed a run trained in this workspace (the weakest-digit step)."""
    if any(job.name == entry.name for job in state.jobs()):
        visited(navigation.EVALUATE)


def codelab_steps() -> None:
    """The codelab's steps as lessons, each ticked once done in this workspace."""
    workspace = state.workspace()
    met = workspace.goals_met()
    # MNIST is loaded already once a run met a goal; without one, nothing to look up.
    available = len(state.mnist().y_train) if met else None
    pages = {page.url_path: page for page in navigation.STEPS}
    st.subheader(_("Lessons: the codelab, step by step"), anchor=False)
    for number, step in enumerate(core.CODELAB_STEPS, start=1):
        if step.lesson_params:
            done = available is not None and step.lesson(available).id in met
        else:
            done = step.page in workspace.visited
        tick, text = st.columns([1, 12], vertical_alignment="center")
        tick.markdown(":green[:material/check_circle:] " + _("done") if done else f"**{number}.**")
        with text:
            st.page_link(
                pages[step.page].path,
                label=_(step.title),
                icon=pages[step.page].icon,
                query_params=dict(step.lesson_params) or None,
            )
            st.caption(_(step.text))
