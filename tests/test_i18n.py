"""Translations: the catalog is complete and compiled, and every page speaks Chinese when asked."""

import io
import json
import re
import string
import threading
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.testing.v1 import AppTest
from test_pages import (
    _canvas_with,
    _inject_drawing,
    _navigation_as_on_a_running_server,  # noqa: F401  # the autouse fixture, here too
    _tiny,
    _wait_for_runs,
)

from mnist_core import i18n
from mnist_core.config import ConfigError, TrainConfig, validate
from ui import language, navigation, streamlit_workarounds

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PO = i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
EXTRACTED = ("app.py", "pages", "ui", "mnist_core")  # as locale/README.md's extract command


def _extracted() -> set[str]:
    """The msgids Babel finds in the code (the singular of a plural)."""
    found = []
    for top in EXTRACTED:
        path = REPO / top
        if path.is_dir():
            found += [message for _file, _line, message, *_rest in extract_from_dir(path)]
        else:
            found += [message for _line, message, *_rest in extract_from_file("python", path)]
    return {m[0] if isinstance(m, tuple) else m for m in found}


def _catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="zh")


def test_every_message_in_the_code_has_a_chinese_translation():
    catalog = _catalog()
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated[key] = all(strings) and not message.fuzzy
    code = _extracted()
    assert code, "Babel found no messages"
    missing = sorted(code - translated.keys())
    assert not missing, f"not in the catalog (run the commands in locale/README.md): {missing}"
    untranslated = sorted(k for k in code if not translated[k])
    assert not untranslated, f"untranslated or fuzzy: {untranslated}"
    obsolete = sorted(translated.keys() - code) + sorted(m.id for m in catalog.obsolete.values())
    assert not obsolete, f"no longer in the code: {obsolete}"


def test_the_committed_mo_is_the_compiled_po():
    compiled = io.BytesIO()
    write_mo(compiled, _catalog())
    committed = PO.with_suffix(".mo").read_bytes()
    assert committed == compiled.getvalue(), "run: pybabel compile (see locale/README.md)"


def _fields(text: str) -> list[str]:
    return sorted(
        f"{name}:{spec}" for _lit, name, spec, _conv in string.Formatter().parse(text) if name
    )


def test_every_translation_keeps_the_placeholders_of_its_message():
    for message in _catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for translation in strings:
            assert _fields(translation) == _fields(ids[-1]), (message.id, translation)


@pytest.mark.parametrize(
    "tag, code",
    [
        ("zh-CN", "zh"),
        ("zh_Hans", "zh"),
        ("zh-TW", "zh"),
        ("en-GB", "en"),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_a_browser_or_url_language_tag_names_a_supported_language(tag, code):
    assert i18n.language_of(tag) == code


@pytest.fixture(scope="module", autouse=True)
def _format_funcs_in_the_tested_sessions_language():
    """AppTest calls the widgets' format_func in the test's own thread, outside any script run,
    where the UI's language source says English, and then looks for an English option label
    among Chinese ones. There, answer with the language of the last script run (the session
    the test drives)."""
    last = [i18n.DEFAULT_LANGUAGE]

    def source() -> str:
        if get_script_run_ctx(suppress_warning=True) is None:
            return last[0]
        last[0] = language.current()
        return last[0]

    i18n.set_language_source(source)
    yield
    i18n.set_language_source(language.current)


def test_core_messages_come_out_in_the_users_language(monkeypatch):
    monkeypatch.setattr(i18n, "_language_source", lambda: "zh")
    with pytest.raises(ConfigError, match="请使用 0 到 3 个卷积块，而不是 4 个"):
        validate(TrainConfig(filters=(8,) * 4, kernel_sizes=(3,) * 4))
    assert TrainConfig().summary().startswith("2 层图案检测器，各有 8, 16 个")
    assert [i18n._(p.title) for p in navigation.PAGES][:3] == ["首页", "数据", "训练"]


def test_outside_a_script_run_the_ui_language_source_says_english(monkeypatch):
    """A training worker thread belongs to no session: its messages are English, no warning."""
    monkeypatch.setattr(i18n, "_language_source", language.current)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(i18n._("Train")))
    worker.start()
    worker.join()
    assert seen == ["Train"]


# Any English word of 3+ letters left, once the allowed names and file paths are removed: a lone
# untranslated label ("Stop") fails as surely as a sentence.
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
# A file's path (the data file the sidebar names) or a link (the share box's settings).
PATH = re.compile(r"\S*[/?=&]\S*")
# Kept as they are in the Chinese UI, on purpose: proper names (MNIST, Keras, Adam, mlxtend,
# the time zone UTC, "Ada" in the name placeholder, image formats), option values that are code
# (relu, sgd, valid/same padding), the preset names (codelab, fast, best, custom: they name runs
# too), the switch's own bilingual label, the glossary's "随机失活（Dropout）", and the layer
# table's Keras layer names and types (the model's own identifiers); Markdown icons, HTML tags
# and Plotly's %{…} hover placeholders are not words either; PCA and t-SNE name methods.
ALLOWED = re.compile(
    r"Digit Lab|TensorFlow\.js|:material/\w+:|%\{[^}]*\}|<[^>]+>|\b(?:MNIST|Keras|TensorFlow|"
    r"Adam|SGD|RMSprop|relu|elu|gelu|tanh|sigmoid|adam|sgd|rmsprop|CNN|Streamlit|CSV|PNG|JPEG|"
    r"GIF|BMP|WebP|UTC|[Cc]odelab|fast|best|custom|valid|same|mlxtend|Ada|Language|Dropout|"
    r"image|flatten|digits|dense|dropout|InputLayer|Flatten|Dense|BatchNormalization|PCA|SNE|Python|html)\b"
)
HIDDEN_FIELDS = {
    *("id", "form_id", "icon", "page", "page_script_hash", "deferred_file_id", "type"),
    "language",  # a code box's highlighting language ("plaintext"), not shown
    *("component_name", "url", "json_args", "js_source_path", "css_source_path"),  # components
}
PLOTLY_TEXT = {"text", "name", "hovertemplate", "texttemplate", "ticktext", "x", "y", "title"}


def _proto_strings(message) -> list[str]:
    """Every string a proto carries, but for ids, icons and the like."""
    found = []
    for field, value in message.ListFields():
        if field.name in HIDDEN_FIELDS:
            continue
        repeated = not isinstance(value, (str, bytes)) and not hasattr(value, "ListFields")
        values = value if repeated and hasattr(value, "__iter__") else [value]
        for item in values:
            if isinstance(item, str):
                found.append(item)
            elif hasattr(item, "ListFields"):
                found.extend(_proto_strings(item))
    return found


def _plotly_strings(node, key: str = "") -> list[str]:
    """The titles, axis titles, legend names, hover templates and category labels of a figure."""
    if isinstance(node, dict):
        return [s for k, v in node.items() if k != "template" for s in _plotly_strings(v, k)]
    if isinstance(node, list):
        return [s for item in node for s in _plotly_strings(item, key)]
    return [node] if isinstance(node, str) and key in PLOTLY_TEXT else []


def _table_strings(node) -> list[str]:
    """A dataframe's visible headers (their configured labels, else their names) and text cells."""
    frame, config = node.value, json.loads(node.proto.columns or "{}")
    found = [str(config.get(str(name), {}).get("label") or name) for name in frame.columns]
    for column in frame.columns:
        found.extend(v for v in frame[column].tolist() if isinstance(v, str))
    return found


def visible_texts(at: AppTest) -> list[str]:
    """Every text the page shows: element and block protos, figures, tables."""
    texts = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = proto.DESCRIPTOR.name if hasattr(proto, "DESCRIPTOR") else ""
        if kind == "Html":
            # Scripts (the cookie's, say) and style sheets alone show nothing.
            if "<script" not in proto.body and not re.fullmatch(
                r"\s*<style>.*</style>\s*", proto.body, re.S
            ):
                texts.append(proto.body)  # Draw's probability bars
            return
        if kind == "PlotlyChart":
            texts.extend(_plotly_strings(json.loads(proto.spec)))
        elif kind == "Dataframe":
            texts.extend(_table_strings(node))
        elif kind:
            texts.extend(_proto_strings(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return texts


def english_sentences(texts: list[str]) -> list[str]:
    """The texts that still hold an English word once the allowed names and paths are removed
    (a custom component's JSON arguments are not text)."""
    return [
        t
        for t in texts
        if not t.startswith("{") and ENGLISH_WORD.search(PATH.sub(" ", ALLOWED.sub(" ", t)))
    ]


def _chinese_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "zh"
    return at.run()


@pytest.fixture(scope="module")
def trained_in_chinese():
    """One Chinese session that trained a tiny 2-epoch run: the deeper states of every page."""
    with pytest.MonkeyPatch.context() as patch:
        original = PagesManager.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            streamlit_workarounds.navigation_only()

        patch.setattr(PagesManager, "__init__", init)
        at = _chinese_app()
        at.switch_page("pages/train.py").run()
        _tiny(at, epochs=2)
        at.slider(key="hp_train_size").set_value(500).run()
        next(b for b in at.button if b.label == "训练").click().run()
        _wait_for_runs(at, 1)
        yield at


def _after(at: AppTest, page: str, mnist) -> None:
    """The states the page tests reach, for the pages that need an action to show them."""
    if page == "pages/draw.py":
        at.slider(key="draw_threshold").set_value(0.5).run()
        _inject_drawing(
            at, _canvas_with(3, mnist), key=f"canvas_{at.session_state['canvas_generation']}"
        )
        at.run()
    elif page == "pages/evaluate.py":
        at.session_state["confusion"] = {
            "selection": {
                "points": [{"x": 9, "y": 4}],
                "point_indices": [94],
                "box": [],
                "lasso": [],
            }
        }
        at.run()


@pytest.mark.parametrize("page", [p.path for p in navigation.PAGES])
def test_every_page_shows_no_english_sentence_in_chinese(trained_in_chinese, page, mnist):
    at = trained_in_chinese
    at.switch_page(page).run()
    _after(at, page, mnist)
    assert not at.exception, at.exception
    texts = visible_texts(at)
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in texts), "the page shows Chinese"
    assert not english_sentences(texts), english_sentences(texts)


def test_the_train_page_before_a_run_and_an_impossible_network_speak_chinese():
    at = _chinese_app()
    at.switch_page("pages/train.py").run()
    at.slider(key="hp_blocks").set_value(3).run()
    for i in range(3):
        at.select_slider(key=f"hp_kernel_sizes{i}").set_value(7).run()
    assert "第 3 块卷积" in at.error[0].value
    assert not english_sentences(visible_texts(at)), english_sentences(visible_texts(at))


def test_the_sidebar_switch_changes_the_language_keeps_the_settings_and_the_url_carries_it():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    at.slider(key="hp_epochs").set_value(3).run()
    at.selectbox(key="hp_pooling").select("average").run()  # an option shown translated
    assert at.title[0].value == "Build and train a network"
    switch = next(g for g in at.get("button_group") if g.key == "language")
    switch.set_value("zh").run()
    assert at.title[0].value == "搭建并训练网络"
    assert at.query_params["lang"] == "zh"
    assert at.slider(key="hp_epochs").value == 3, "switching loses nothing"
    assert at.selectbox(key="hp_pooling").value == "average"
    assert at.selectbox(key="hp_pooling").options == ["最大池化", "平均池化", "无"]
    assert not english_sentences(visible_texts(at)), english_sentences(visible_texts(at))
    next(g for g in at.get("button_group") if g.key == "language").set_value("en").run()
    assert at.title[0].value == "Build and train a network" and at.query_params["lang"] == "en"


def test_the_browsers_language_decides_without_a_url_choice_and_english_is_the_fallback():
    at = AppTest.from_file(APP, default_timeout=120)
    at.context["locale"] = "zh-CN"
    at.run()
    assert at.get("page_link")[0].label == "1. 查看数据"
    assert "lang" not in at.query_params, "the browser's choice is not written into links"
    french = AppTest.from_file(APP, default_timeout=120)
    french.context["locale"] = "fr-FR"
    french.query_params["lang"] = "xx"  # an unknown language: ignored
    french.run()
    assert not french.exception and french.get("page_link")[0].label == "1. Look at the data"


def test_english_is_all_english_with_lang_en():
    at = AppTest.from_file(APP, default_timeout=120)
    at.context["locale"] = "zh-CN"
    at.query_params["lang"] = "en"  # the URL wins over the browser
    at.run().switch_page("pages/train.py").run()
    texts = visible_texts(at)
    switch = {"Language / 语言", "简体中文"}  # each language's name in itself
    chinese = [t for t in texts if re.search(r"[\u4e00-\u9fff]", t) and t not in switch]
    assert not chinese and "Language / 语言" in texts, chinese


@pytest.mark.parametrize("page", [p.path for p in navigation.PAGES])
def test_switching_language_on_every_page_keeps_the_page_and_the_run(trained_in_chinese, page):
    at = trained_in_chinese
    at.switch_page(page).run()
    for code in ("en", "zh"):
        next(g for g in at.get("button_group") if g.key == "language").set_value(code).run()
        assert not at.exception, at.exception
        assert at.query_params["lang"] == code
    assert at.session_state["workspace"].jobs[0].state == "done"
    assert (
        at.sidebar.selectbox(key="current_model").value
        == at.session_state["workspace"].jobs[0].name
    )
