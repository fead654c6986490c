"""Long computations a page runs only when asked: a start button, then a progress bar and a Cancel
button while it runs, and the results kept per settings so that coming back costs nothing.

    if long_runs.requested("compare_run", signature, "Score on common ground"):
        with long_runs.running("compare_run") as progress:
            report = compute(progress=progress.images, on_stage=progress.stage)
        store.put(signature, report)

Cancelling works through Streamlit's own reruns: a click on Cancel starts a new run of the script,
which stops the running one at its next Streamlit call (every progress update is one), and the
Cancel button's callback has already cleared the request, so the new run shows the start button
again. Any other widget changed while the computation runs stops it in the same way.
"""
from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict

import streamlit as st


class ResultStore:
    """The last `size` results by their settings (a plain LRU; the pages keep one in `st.cache_resource`,
    shared by every session and so guarded by a lock, or in the session)."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items


REQUESTED = "requested"  # a click not yet taken up by a run


def _pending(key: str) -> str:
    return f"{key}_pending"


def requested(key: str, signature, label: str, *, disabled: bool = False, help: str | None = None) -> bool:
    """Draw the start button; True in the run that should compute for `signature` (the one right
    after the click, with the settings of that run). A computation that was interrupted while other
    settings were chosen is not taken up again."""
    def start():  # a callback runs before the next run reads its widgets: the settings are that run's
        st.session_state[_pending(key)] = REQUESTED
        st.session_state.pop(f"{key}_cancelled", None)

    pending = st.session_state.get(_pending(key))
    if pending is REQUESTED or pending == REQUESTED:
        st.session_state[_pending(key)] = pending = signature
    elif pending is not None and pending != signature:
        st.session_state.pop(_pending(key), None)
        pending = None
    if pending is None:
        st.button(label, key=f"{key}_start", type="primary", icon=":material/play_arrow:", on_click=start,
                  disabled=disabled, help=help)
        if st.session_state.pop(f"{key}_cancelled", False):
            st.caption(":material/cancel: Cancelled: nothing was computed or kept.")
        return False
    return True


class Progress:
    """The progress bar of a running computation: `images(done, total)` while scoring, `stage(text)` after."""

    def __init__(self, bar, what: str):
        self.bar, self.what = bar, what

    def images(self, done: int, total: int) -> None:
        self.bar.progress(done / max(total, 1), text=f"Scoring image {done:,} of {total:,} {self.what}…")

    def stage(self, text: str) -> None:
        self.bar.progress(1.0, text=text)

    def starting(self, text: str) -> None:
        """A step before the first image (loading the models), the bar still empty."""
        self.bar.progress(0.0, text=text)


@contextlib.contextmanager
def running(key: str, what: str = ""):
    """A Cancel button and a progress bar while the body runs; both removed and the request cleared
    when it ends, however it ends."""
    def cancel():
        st.session_state.pop(_pending(key), None)
        st.session_state[f"{key}_cancelled"] = True

    box = st.empty()
    with box.container():
        st.button("Cancel", key=f"{key}_cancel", icon=":material/cancel:", on_click=cancel)
        progress = Progress(st.progress(0.0, text="Starting…"), what)
    try:
        yield progress
    finally:
        st.session_state.pop(_pending(key), None)
        box.empty()
