"""Start-up of TensorFlow without its native log noise on the terminal.

TensorFlow's C++ core prints an informational oneDNN notice straight to file descriptor 2 when it
is imported, before any Python logging setting applies. A command-line tool promises one `error:`
line per bad input on stderr, so the import runs with descriptor 2 pointed at /dev/null.
"""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration; Python exceptions still propagate."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras once, with C++ info logs and the oneDNN notice silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    with native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def compiled_forward(model):
    """The model's inference pass as one traced graph for any batch size.

    Calling a Keras model eagerly runs every layer from Python, which on a 2-core CPU costs about
    ten times the arithmetic for one image; `model.predict` adds its own per-call setup. The graph
    is traced once (the batch dimension is left open) and then reused.
    """
    import tensorflow as tf

    spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])


def run_in_batches(forward, inputs, batch_size: int = 32):
    """`forward` over `inputs` in batches of at most `batch_size`, concatenated as a NumPy array."""
    import numpy as np

    inputs = np.asarray(inputs, np.float32)
    if not len(inputs):  # Some layers (batch norm) cannot run on an empty batch.
        return np.asarray(forward(np.zeros((1, *inputs.shape[1:]), np.float32)))[:0]
    if len(inputs) <= batch_size:
        return np.asarray(forward(inputs))
    return np.concatenate([np.asarray(forward(inputs[i:i + batch_size])) for i in range(0, len(inputs), batch_size)])


def doc_summary(doc: str | None) -> str:
    """The first paragraph of a module's docstring on one line: a command's `--help` description
    (its first line alone can stop mid-sentence)."""
    return " ".join((doc or "").split("\n\n")[0].split())
