"""The Diagnose page's own figures: the film's probabilities (beside them the output with hidden
cells, when there are some) and the zoom view of film and map with shared axes.

Plain plotly figures built from numbers, so they are tested without a browser.
"""
from __future__ import annotations

import base64

import cv2
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from model.present.charts import MUTED, PRIMARY

HIDDEN_COLOUR = "#e09a2a"  # amber, as the outline of hidden cells on the film
ZOOM_SPACING = 0.01        # gap between the panels, as a share of the plot width
ZOOM_TOOLBAR = 36          # px of right margin where the toolbar stands, never over the map
ZOOM_NOMINAL_PANEL = 400   # px of one panel at which the fixed toolbar margin is counted in the aspect ratio
ZOOM_MAX_HEIGHT = 0.62     # of the window's height: the most the figure takes, so a tall film stays on screen


def probability_bars(prediction, hidden=None) -> go.Figure:
    """Horizontal bars of the film's probabilities (percent, the top class highlighted) and, given
    `hidden` probabilities (K,) with cells hidden, a second bar per class beside them."""
    labels = list(prediction.labels)
    percent = np.asarray(prediction.probabilities, float) * 100.0
    top = int(np.argmax(percent))
    # Alone, the top class stands out; beside the hidden cells' bars each series has one colour, so the
    # legend's swatches say which is which (a swatch takes a series' first bar's colour).
    colours = PRIMARY if hidden is not None else [PRIMARY if k == top else MUTED for k in range(len(labels))]
    fig = go.Figure(go.Bar(x=percent, y=labels, orientation="h", name="the film", marker_color=colours,
                           text=[f"{p:.1f}%" for p in percent], cliponaxis=False,
                           textposition=["inside" if p >= 25 else "outside" for p in percent],
                           hovertemplate="%{y}: %{x:.1f}%<extra>the film</extra>"))
    if hidden is not None:
        after = np.asarray(hidden, float) * 100.0
        fig.add_trace(go.Bar(x=after, y=labels, orientation="h", name="cells hidden", marker_color=HIDDEN_COLOUR,
                             text=[f"{p:.1f}%" for p in after], cliponaxis=False,
                             textposition=["inside" if p >= 25 else "outside" for p in after],
                             hovertemplate="%{y}: %{x:.1f}%<extra>cells hidden</extra>"))
    fig.update_xaxes(range=[0, 100], showticklabels=False, showgrid=False)
    fig.update_yaxes(autorange="reversed")  # first label on top, as in the card's order
    rows = len(labels) * (2 if hidden is not None else 1)
    fig.update_layout(height=30 + 30 * rows, margin=dict(l=0, r=10, t=4, b=0), template="plotly_white",
                      barmode="group", bargap=0.25, showlegend=hidden is not None,
                      uniformtext=dict(minsize=11, mode="show"),  # plotly shrank the in-bar figures to ~9 px
                      legend=dict(orientation="h", y=-0.05, yanchor="top", x=0, font=dict(size=11)))
    return fig


def _source(image: np.ndarray) -> str:
    """A JPEG data URL (fast to send; a 1280-pixel film as PNG is slow)."""
    image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def zoom_aspect(shape: tuple[int, int], panel: int = ZOOM_NOMINAL_PANEL) -> float:
    """The figure's width / height at which a film of `shape` fills both panels (the toolbar's margin
    counted at panels `panel` px wide). The page keeps the figure's box at this ratio, as wide as its
    column allows and at most ZOOM_MAX_HEIGHT of the window high, so the figure has no empty band and
    grows with the screen."""
    height, width = (max(int(v), 1) for v in shape[:2])
    return (2 * panel / (1.0 - ZOOM_SPACING) + ZOOM_TOOLBAR) / (panel * height / width)


def zoom_figure(film: np.ndarray, overlay: np.ndarray) -> go.Figure:
    """Film and map side by side with shared axes: drag a box on either to zoom both, double-click
    to go back. No titles inside the figure (the toolbar would cover them); the page captions it.
    The figure takes the size of its box (`zoom_aspect` gives the box's shape)."""
    fig = make_subplots(rows=1, cols=2, shared_xaxes=True, shared_yaxes=True, horizontal_spacing=ZOOM_SPACING)
    for col, image in enumerate((film, overlay), start=1):
        fig.add_trace(go.Image(source=_source(image), hoverinfo="skip"), row=1, col=col)
    fig.update_xaxes(matches="x", showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(matches="y", showticklabels=False, showgrid=False, zeroline=False, scaleanchor="x",
                     constrain="domain")
    # The toolbar stands in a margin of its own on the right, never over the map.
    fig.update_layout(autosize=True, margin=dict(l=0, r=ZOOM_TOOLBAR, t=0, b=0), dragmode="zoom",
                      template="plotly_white", modebar=dict(orientation="v"))
    return fig


def zoom_box_style(key: str, aspect: float, under: tuple[str, ...] = ()) -> str:
    """CSS that keeps the page's box `key` (an `st.container` key) at `aspect` (width / height), as
    wide as its column and at most ZOOM_MAX_HEIGHT of the window high; the boxes `under` it (the colour
    bar) span its two panels, the toolbar's margin left out, so nothing under the figure runs past them."""
    box = f"min(100%, calc({100 * ZOOM_MAX_HEIGHT:.0f}vh * {aspect:.4f}))"
    rules = [f".st-key-{key} {{aspect-ratio: {aspect:.4f}; height: auto; width: {box};}}",
             *(f".st-key-{other} {{width: calc({box} - {ZOOM_TOOLBAR}px);}}" for other in under)]
    return f"<style>{' '.join(rules)}</style>"


def drawing_style(aspect: float, boxes: dict[str, str]) -> str:
    """CSS that gives the placeholder Streamlit shows while an image of the page's box (an element or
    `st.container` key in `boxes`) is still on its way the image's shape (`aspect`, width / height) and a
    short caption inside it (`boxes[key]`, "Drawing the map…"): an empty strip a few pixels high stood
    under the film's caption for a second, and the page jumped when the image came."""
    rules = []
    for key, words in boxes.items():
        words = words.replace("\\", "").replace('"', "'")
        skeleton = f'.st-key-{key} [data-testid="stSkeleton"]'
        rules += [f"{skeleton} {{aspect-ratio: {aspect:.4f}; height: auto; display: flex; align-items: center; "
                  "justify-content: center;}",
                  f'{skeleton}::after {{content: "{words}"; font-size: 0.875rem; opacity: 0.7;}}']
    return f"<style>{' '.join(rules)}</style>"

