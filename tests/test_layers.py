"""The code's layers: pages → ui → mnist_core, and inside it only the engine imports Keras.

Ruff's TID253 stops a Keras import at module level outside the engine; these check what each
layer imports in turn, through every module it names, in a fresh interpreter.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mnist_core", "ui", "pages")


def _modules(folder: str) -> list[str]:
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "__main__.py"
    )


def _imported_after(modules: list[str]) -> dict[str, bool]:
    """Which of TensorFlow, Keras and Streamlit a fresh interpreter holds after `modules`."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps({m: m in sys.modules for m in ('tensorflow', 'keras', 'streamlit')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.splitlines()[-1])


def test_the_classroom_and_the_presentation_import_no_tensorflow():
    keras_free = [
        *_modules("mnist_core/classroom"),
        *_modules("mnist_core/presentation"),
        "mnist_core.config",
        "mnist_core.data",
        "mnist_core.i18n",
        "mnist_core.engine.evaluation",
        "mnist_core.engine.handwriting",
        "mnist_core.engine.preprocess",
        "mnist_core.engine.progress",
    ]
    assert _imported_after(keras_free) == {"tensorflow": False, "keras": False, "streamlit": False}


@pytest.mark.slow
def test_the_engine_never_imports_streamlit():
    imported = _imported_after(_modules("mnist_core"))
    assert imported == {"tensorflow": True, "keras": True, "streamlit": False}


def _imports_of_private_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGES):
            found += [
                f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and alias.name != "_"  # gettext's _ is public
            ]
    return found


def test_no_module_imports_another_modules_underscore_names():
    found = [
        name
        for folder in PACKAGES
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _imports_of_private_names(path)
    ]
    assert found == []
