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
