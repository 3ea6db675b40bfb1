"""Digit Lab's core: everything but the pages, and it never imports streamlit.

- `config`, `data`, `i18n`: a run's settings, MNIST, the catalogs; shared by all below.
- `engine/`: the machine learning (networks, the fit, evaluation, preprocessing, what the
  deeper views compute). The only package that imports Keras at module level.
- `classroom/`: the server many people share (runs and their queue, time estimates, workspaces,
  the class board, lessons and links). Never imports Keras: it reaches the engine inside the
  functions that train or test, so a visitor's first pages never wait for TensorFlow.
- `presentation/`: what pages draw and hand out (Plotly charts, CSV files, the Python script).
"""

import os

# Keep TensorFlow's C++ start-up chatter off the terminal; it must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
