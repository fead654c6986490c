"""The Diagnose page's case and controls as typed values.

A `Case` is one film, the model that reads it, the registry's lung model and what the reader stated
about the film; every result the page shows for it comes through its methods, each cached in
`dashboard.caching` by the film's digest (never by its pixels). `Controls` are the page's settings:
those that choose a map (method, class, layer) and those that only change how it is drawn.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dashboard import caching
from model.inputs.intake import Xray
from model.inputs.lungs import mask_plausibility
from model.present.text import case_id
from model.registry import ModelCard
from model.trust.facts import Stated


@dataclass(frozen=True)
class Controls:
    """The page's settings.

    Attributes:
        method, target, layer: what the map explains (method name, class label, Keras layer name).
        layer_label: the layer as a person says it; layer_member: the ensemble member it belongs to
            alone (None: the whole model).
        opacity, colormap, threshold, outline: how the map is drawn (never keys of a computation).
        zoom: film and map in one zoomable view.
    """

    method: str
    target: str
    layer: str | None
    layer_label: str
    layer_member: int | None = None
    opacity: float = 0.45
    colormap: str = "inferno"
    threshold: float = 0.5
    outline: bool = False
    zoom: bool = False


@dataclass(frozen=True, eq=False)
class Case:
    """One film read by one model.

    Attributes:
        digest: the SHA-256 of the upload: the key of every cached result.
        xray: the decoded film.
        key: the model's cache key.
        card: the model's card.
        lungs: the lung model's cache key, or None (`lungs_reason` then says why).
        stated: what the reader stated about the film (age, view).
    """

    digest: str
    xray: Xray
    key: caching.ModelKey
    card: ModelCard
    lungs: caching.ModelKey | None = None
    lungs_reason: str = ""
    stated: Stated = Stated()

    @property
    def pixels(self) -> np.ndarray:
        return self.xray.pixels

    @property
    def case_id(self) -> str:
        """The report's case id: the digest's first digits, not patient data."""
        return case_id(self.digest)

    def model_input(self):
        return caching.model_input(self.digest, self.key, self.pixels)

    def uncertainty(self):
        """The film's calibrated probabilities and their stability (`Uncertainty`)."""
        return caching.uncertainty(self.digest, self.key, self.pixels)

    def prediction(self):
        """The one probability of this film and model, as a `Prediction`."""
        return self.uncertainty().prediction(self.card.labels)

    def triage(self):
        return caching.triage(self.digest, self.key, self.lungs, self.pixels, self.xray.metadata, self.stated)

    def lung_mask(self) -> np.ndarray | None:
        return None if self.lungs is None else caching.lung_mask(self.digest, self.lungs, self.pixels)

    def lungs_found(self) -> bool | None:
        """Whether the lung model found plausible lung fields (None without a lung model)."""
        mask = self.lung_mask()
        return None if mask is None else bool(mask_plausibility(mask)["plausible"])

    def explanation(self, method: str, target: str, layer: str | None):
        """(`Explanation`, map on the film's grid)."""
        return caching.explanation(self.digest, self.key, method, target, layer, self.pixels)

    def faithfulness(self, controls: Controls):
        return caching.faithfulness(self.digest, self.key, controls.method, controls.target, controls.layer,
                                    self.pixels)

    def hidden_cells(self, cells, grid: int, fill: str):
        """`HiddenCells`: the output with these film-grid cells hidden at once."""
        return caching.hidden_cells(self.digest, self.key, tuple(sorted(cells)), grid, fill, self.pixels)

    def grid_effects(self, grid: int, class_index: int, fill: str):
        return caching.grid_effects(self.digest, self.key, grid, class_index, fill, self.pixels)
