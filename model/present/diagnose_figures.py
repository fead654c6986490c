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
ZOOM_PANEL_WIDTH = 300     # px of one panel at most: two fill the map column of the 1366-pixel layout
ZOOM_PANEL_HEIGHT = 420    # px of one panel at most: a tall film stays on a 768-pixel screen
ZOOM_SPACING = 0.01        # gap between the panels, as a share of the plot width
ZOOM_TOOLBAR = 36          # px of right margin where the toolbar stands, never over the map


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


def zoom_size(shape: tuple[int, int], panel_width: int = ZOOM_PANEL_WIDTH,
              panel_height: int = ZOOM_PANEL_HEIGHT) -> tuple[int, int]:
    """The figure's (width, height) in px at which a film of `shape` fills both panels exactly, each
    at most `panel_width` wide and `panel_height` high: the figure has no empty band on any side, and
    the page draws it at that width (a wider column keeps its margin outside the figure)."""
    height, width = (max(int(v), 1) for v in shape[:2])
    scale = min(panel_width / width, panel_height / height)
    panel_w, panel_h = width * scale, height * scale
    return int(round(2 * panel_w / (1.0 - ZOOM_SPACING))) + ZOOM_TOOLBAR, int(round(panel_h))


def zoom_figure(film: np.ndarray, overlay: np.ndarray, panel_width: int = ZOOM_PANEL_WIDTH,
                panel_height: int = ZOOM_PANEL_HEIGHT) -> go.Figure:
    """Film and map side by side with shared axes: drag a box on either to zoom both, double-click
    to go back. No titles inside the figure (the toolbar would cover them); the page captions it."""
    fig = make_subplots(rows=1, cols=2, shared_xaxes=True, shared_yaxes=True, horizontal_spacing=ZOOM_SPACING)
    for col, image in enumerate((film, overlay), start=1):
        fig.add_trace(go.Image(source=_source(image), hoverinfo="skip"), row=1, col=col)
    fig.update_xaxes(matches="x", showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(matches="y", showticklabels=False, showgrid=False, zeroline=False, scaleanchor="x",
                     constrain="domain")
    # The toolbar stands in a margin of its own on the right, never over the map.
    width, height = zoom_size(film.shape, panel_width, panel_height)
    fig.update_layout(width=width, height=height, margin=dict(l=0, r=ZOOM_TOOLBAR, t=0, b=0), autosize=False,
                      dragmode="zoom", template="plotly_white", modebar=dict(orientation="v"))
    return fig
