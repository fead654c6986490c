"""Hiding a region of the film as the reader sees it: a grid drawn on the whole film, each cell
mapped into the model input through the region the model saw (`ModelInput.region`).

    cell = cell_at(x, y, shown_size, grid=6)                     # a click on the displayed film
    box = input_box(cell, 6, model_input, prep)                  # (top, left, height, width) on the input
    effects = grid_effects(clf.predict_inputs, model_input, prep, 6, class_index=0)
    hidden = hide_cells(clf.predict_inputs, model_input, prep, cells=(14, 15), grid=6)

A cell that lies outside the region the model saw has no box (None): hiding it changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.explain.occlusion import Box, occlude
from model.inputs.preprocessing import ModelInput, Preprocessing


def check_grid(grid: int) -> int:
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or not 1 <= grid <= 32:
        raise ValueError(f"grid must be an integer from 1 to 32, got {grid!r}")
    return int(grid)


def cell_bounds(cell: int, grid: int, image_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) pixels of one cell (row-major) of a grid x grid grid on the film."""
    grid = check_grid(grid)
    if isinstance(cell, bool) or not isinstance(cell, (int, np.integer)) or not 0 <= cell < grid * grid:
        raise ValueError(f"cell must be an integer from 0 to {grid * grid - 1}, got {cell!r}")
    row, col = divmod(int(cell), grid)
    height, width = image_shape[:2]
    return (round(row * height / grid), round((row + 1) * height / grid),
            round(col * width / grid), round((col + 1) * width / grid))


def cell_at(x: float, y: float, shown: tuple[int, int], grid: int) -> int | None:
    """The cell under a click at (x, y) on a film displayed `shown` = (width, height) pixels; None
    when the click is outside the image."""
    grid = check_grid(grid)
    width, height = shown
    if width <= 0 or height <= 0 or not (0 <= x < width and 0 <= y < height):
        return None
    return int(y * grid // height) * grid + int(x * grid // width)


def toggle_cell(cells, cell: int | None) -> list[int]:
    """The hidden cells after a click on `cell`: hidden if it was shown, shown again if it was hidden."""
    cells = [int(c) for c in cells]
    if cell is None:
        return cells
    return [c for c in cells if c != cell] if cell in cells else [*cells, int(cell)]


def cell_name(cell: int, grid: int) -> str:
    row, col = divmod(int(cell), check_grid(grid))
    return f"row {row + 1}, column {col + 1}"


def _to_input(value: float, start: int, length: int, offset: int, inner: int, size: int) -> float:
    """A film coordinate inside the region as a fraction of the model input's side."""
    return (offset + (value - start) * inner / length) / size


def input_box(cell: int, grid: int, model_input: ModelInput, prep: Preprocessing | dict) -> Box | None:
    """The model-input box `(top, left, height, width)` (fractions of the side) that one film-grid
    cell covers, through the region the model saw and the card's resize (stretch or letterbox);
    None when the cell lies outside that region."""
    if isinstance(prep, dict):
        prep = Preprocessing.from_dict(prep)
    c_top, c_bottom, c_left, c_right = cell_bounds(cell, grid, model_input.image_shape)
    r_top, r_bottom, r_left, r_right = model_input.region
    top, bottom = max(c_top, r_top), min(c_bottom, r_bottom)
    left, right = max(c_left, r_left), min(c_right, r_right)
    if bottom <= top or right <= left:
        return None
    size = prep.image_size
    region_h, region_w = r_bottom - r_top, r_right - r_left
    if prep.resize == "letterbox":
        scale = size / max(region_h, region_w)
        inner_h, inner_w = max(1, round(region_h * scale)), max(1, round(region_w * scale))
        y0, x0 = (size - inner_h) // 2, (size - inner_w) // 2
    else:
        inner_h, inner_w, y0, x0 = size, size, 0, 0
    y_top = _to_input(top, r_top, region_h, y0, inner_h, size)
    y_bottom = _to_input(bottom, r_top, region_h, y0, inner_h, size)
    x_left = _to_input(left, r_left, region_w, x0, inner_w, size)
    x_right = _to_input(right, r_left, region_w, x0, inner_w, size)
    y_top, x_left = min(max(y_top, 0.0), 1.0 - 1e-6), min(max(x_left, 0.0), 1.0 - 1e-6)
    return (y_top, x_left, max(min(y_bottom, 1.0) - y_top, 1e-6), max(min(x_right, 1.0) - x_left, 1e-6))


def signed_points(value: float, minus: str = "−") -> str:
    """A change of `value` percentage points as text: "−12.3 points", "+5.0 points", "±0.0 points" (no sign for
    what prints as no change). `minus`: a real minus sign for reading; "-" for `st.metric`, which takes the
    direction of its arrow from a leading hyphen."""
    value = float(value)
    sign = minus if value < -0.05 else "+" if value > 0.05 else "±"
    return f"{sign}{abs(value):.1f} points"


def fall_points(drop: float) -> str:
    """A fall of probability in points, unsigned because the word "fall" already gives the direction
    ("largest fall 8.7 points", never "fall −8.7 points", a double negative); `drop` >= 0."""
    return f"{100.0 * max(0.0, float(drop)):.1f} points"


def change_points(before: float, after: float) -> float:
    """The change from one probability to another in percentage points, as both are shown (to 0.1%, as
    `f"{p:.1%}"` prints them: `round(100 * p, 1)` is the same decimal), so "76.3% → 75.4%" is −0.9, never a
    figure its own two numbers do not give; 0.0 (never −0.0) exactly when the two print alike."""
    return round(round(100.0 * float(after), 1) - round(100.0 * float(before), 1), 1) + 0.0


SCALE_FLOOR = 0.05  # a grid-occlusion map's colours span at least 5 points of probability


@dataclass(frozen=True)
class GridEffects:
    """What hiding each film-grid cell does to one class's probability.

    Attributes:
        grid: cells per side.
        before: the class's probability on the unchanged input.
        after: (grid, grid) probability with each cell hidden; NaN for cells outside the region.
        class_index: the class watched.
    """

    grid: int
    before: float
    after: np.ndarray
    class_index: int

    @property
    def drop(self) -> np.ndarray:
        """(grid, grid) fall of the probability when each cell is hidden (0 where it rises; NaN outside)."""
        return np.where(np.isnan(self.after), np.nan, np.maximum(0.0, self.before - self.after))

    @property
    def scale(self) -> float:
        """The fall the colours' top stands for: the largest fall, but at least `SCALE_FLOOR`, so a
        largest fall of 0.1 point is drawn faint, not in the colour of a 20-point fall."""
        return max(float(np.nanmax(self.drop)) if np.any(~np.isnan(self.drop)) else 0.0, SCALE_FLOOR)

    def film_map(self, image_shape: tuple[int, int]) -> np.ndarray:
        """The drops on the film's grid over `scale` (a map in [0, 1], 0 outside the region)."""
        drop = np.nan_to_num(self.drop, nan=0.0)
        scaled = np.clip(drop / self.scale, 0.0, 1.0)
        out = np.zeros(image_shape[:2], np.float32)
        for cell in range(self.grid * self.grid):
            top, bottom, left, right = cell_bounds(cell, self.grid, image_shape)
            out[top:bottom, left:right] = scaled.flat[cell]
        return out


@dataclass(frozen=True)
class HiddenCells:
    """The model's output with several film-grid cells hidden at once.

    Attributes:
        cells: the cells asked for (row-major), sorted.
        inside: those that overlap the region the model saw (the others change nothing).
        probabilities: calibrated probabilities (K,) with the `inside` cells hidden; None when no
            cell lies inside (the output is then the film's own).
    """

    cells: tuple[int, ...]
    inside: tuple[int, ...]
    probabilities: np.ndarray | None


def hide_cells(predict, model_input: ModelInput, prep: Preprocessing | dict, cells, grid: int,
               fill: str = "blur") -> HiddenCells:
    """Hide several film-grid cells at once (each mapped into the model input, each filled from the
    unchanged input) and classify the result in one pass, with `predict` (`Classifier.predict_inputs`:
    the same calibrated figure the film's own probability is)."""
    from model.explain.occlusion import box_pixels, filler

    grid = check_grid(grid)
    cells = tuple(sorted({int(cell) for cell in cells}))
    boxes = {cell: input_box(cell, grid, model_input, prep) for cell in cells}
    inside = tuple(cell for cell in cells if boxes[cell] is not None)
    if not inside:
        return HiddenCells(cells, (), None)
    hidden = np.array(model_input.array, np.float32, copy=True)
    fill_values = filler(model_input.array, fill)
    for cell in inside:
        r0, r1, c0, c1 = box_pixels(boxes[cell], hidden.shape)
        hidden[r0:r1, c0:c1] = fill_values[r0:r1, c0:c1]
    return HiddenCells(cells, inside, np.asarray(predict(hidden[None]))[0])


@dataclass(frozen=True)
class HiddenEffect:
    """What hiding film-grid cells does to the answer, measured from the film's own probability (the card's):
    the one typed result the Diagnose page, its report and any other view format (`hidden_effect`).

    Attributes:
        cells: the hidden cells (row-major, sorted); `grid`: cells per side of the film's grid.
        fill: how the model saw them hidden (`model.explain.occlusion.FILLS`).
        labels: the model's classes, in the card's order.
        label: the answer's class; `before`: its probability on the film, as the card gives it.
        level: the model's answer level (a probability under it is held for a second read); None: not known.
        probabilities: every class's probability with the cells hidden (in `labels`' order); None when no hidden
            cell lies in the region the model saw, so nothing changes. Every field below is then None or False.
        after: the answer's probability with the cells hidden.
        change: from `before` to `after` in percentage points as the two print (`change_points`).
        output_after, after_top: the class with the highest probability with the cells hidden, and that probability.

    Properties, derived from those (False when not `seen`):
        unchanged: the two print alike (`change` is 0.0): the change prints "±0.0 points", with no direction.
        output_changes: `output_after` is another class than `label`.
        after_top_under: `after_top` is under `level` (False without a level).
        falls_under: the answer stays, but falls from `level` or above to under it.
        reaches_level: the answer stays, and rises from under `level` to it or above.
    """

    cells: tuple[int, ...]
    grid: int
    fill: str
    labels: tuple[str, ...]
    label: str
    before: float
    level: float | None
    probabilities: tuple[float, ...] | None
    after: float | None = None
    change: float | None = None
    output_after: str | None = None
    after_top: float | None = None

    @property
    def seen(self) -> bool:
        """Whether the model saw any of the hidden cells (else its output is the film's own)."""
        return self.probabilities is not None

    @property
    def unchanged(self) -> bool:
        return self.seen and self.change == 0.0

    @property
    def output_changes(self) -> bool:
        return self.seen and self.output_after != self.label

    @property
    def after_top_under(self) -> bool:
        return self.seen and self.level is not None and self.after_top < self.level

    @property
    def falls_under(self) -> bool:
        return (self.seen and not self.output_changes and self.level is not None
                and self.before >= self.level > self.after)

    @property
    def reaches_level(self) -> bool:
        return (self.seen and not self.output_changes and self.level is not None
                and self.before < self.level <= self.after)


def hidden_effect(hidden: HiddenCells, labels, label: str, before: float, level: float | None, fill: str,
                  grid: int) -> HiddenEffect:
    """The typed effect of the cells `hidden` (`hide_cells`) on the answer `label`, measured from `before`, its
    probability on the film as the card gives it (the one figure every view shows), against the answer `level`.

    Raises:
        ValueError: `label` is not one of `labels`, or the probabilities are not one per class.
    """
    labels = tuple(str(name) for name in labels)
    if label not in labels:
        raise ValueError(f"label must be one of {labels}, got {label!r}")
    level = None if level is None else float(level)
    base = dict(cells=tuple(sorted(int(c) for c in hidden.cells)), grid=check_grid(grid), fill=fill, labels=labels,
                label=label, before=float(before), level=level)
    if hidden.probabilities is None:
        return HiddenEffect(**base, probabilities=None)
    probabilities = tuple(float(p) for p in np.asarray(hidden.probabilities, float).ravel())
    if len(probabilities) != len(labels):
        raise ValueError(f"expected {len(labels)} probabilities, one per class, got {len(probabilities)}")
    after, top = probabilities[labels.index(label)], int(np.argmax(probabilities))
    return HiddenEffect(**base, probabilities=probabilities, after=after, change=change_points(before, after),
                        output_after=labels[top], after_top=probabilities[top])


def cells_name(cells, grid: int) -> str:
    """"row 3, column 3" for one cell; "2 cells (row 3, column 3; row 3, column 4)" for several."""
    names = [cell_name(cell, grid) for cell in sorted(cells)]
    return names[0] if len(names) == 1 else f"{len(names)} cells ({'; '.join(names)})"


def grid_effects(predict, model_input: ModelInput, prep: Preprocessing | dict, grid: int, class_index: int,
                 fill: str = "blur") -> GridEffects:
    """Hide each film-grid cell in turn (one batch of at most grid² occluded copies) and record the
    probability of `class_index`: the occlusion-sensitivity map on the grid the reader clicks."""
    grid = check_grid(grid)
    boxes = {cell: input_box(cell, grid, model_input, prep) for cell in range(grid * grid)}
    inside = [cell for cell, box in boxes.items() if box is not None]
    batch = np.stack([model_input.array] + [occlude(model_input.array, boxes[cell], fill) for cell in inside])
    probabilities = np.asarray(predict(batch))[:, int(class_index)]
    after = np.full(grid * grid, np.nan)
    after[inside] = probabilities[1:]
    return GridEffects(grid, float(probabilities[0]), after.reshape(grid, grid), int(class_index))
