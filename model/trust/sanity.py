"""Model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"): a map
that hardly changes when the trained weights are replaced by random ones describes the image
(edges, bright structures), not the model."""
from __future__ import annotations

from typing import Callable, Iterable

import cv2
import numpy as np

from model.explain import check_method
from model.policy import RANDOMISATION_THRESHOLD, REPORT_METHODS
from model.trust.agreement import map_similarity, mean_measured


def _ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """Structural similarity of two [0, 1] maps when scikit-image is installed, else None."""
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        return None
    a, b = np.asarray(a, np.float64).squeeze(), np.asarray(b, np.float64).squeeze()
    if b.shape != a.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
    if min(a.shape) < 7:
        return None
    return float(structural_similarity(a, b, data_range=1.0))


def randomization_similarity(map_fn_trained: Callable[[np.ndarray], np.ndarray],
                             map_fn_random: Callable[[np.ndarray], np.ndarray], inputs: Iterable[np.ndarray],
                             threshold: float = RANDOMISATION_THRESHOLD) -> dict:
    """Similarity of the maps of a trained model and of its randomised copy, over several inputs.

    The generic form of the check: any two map functions can be compared, e.g. one that ignores
    the weights altogether (and so must be flagged).

    A blank (constant) map ranks nothing, so an input whose trained or randomised map is blank has no
    similarity (`map_similarity` None) and is left out of the mean: a blank trained map read 0.00, "the map
    changed when the weights were randomised", a pass it did not earn. When more than half of the inputs
    have a blank map, or none has a similarity, the check says nothing about the method: `inconclusive`, and
    never "passed".

    Args:
        map_fn_trained: input (S, S, C) -> 2-D map from the trained model.
        map_fn_random: the same for the randomised model.
        inputs: the model inputs.
        threshold: mean Spearman similarity above which the method is `flagged`, in (-1, 1).

    Returns:
        dict with `spearman` (mean rank correlation over the inputs with one, `model.trust.agreement.map_similarity`;
        None when none has), `spearman_per_input` (None: a blank map), `ssim` (mean structural similarity, or
        None without scikit-image), `n`, `blank` (inputs whose trained or randomised map is blank: no
        similarity), `inconclusive` and `flagged` (spearman > threshold: the maps barely depend on the weights).
    """
    threshold = _check_threshold(threshold)
    rhos, ssims = [], []
    for x in inputs:
        trained, randomised = map_fn_trained(x), map_fn_random(x)
        rhos.append(map_similarity(trained, randomised))
        ssims.append(_ssim(trained, randomised))
    if not rhos:
        raise ValueError("randomization_similarity needs at least one input")
    ssim = None if any(s is None for s in ssims) else float(np.mean(ssims))
    spearman, blank = mean_measured(rhos), sum(rho is None for rho in rhos)
    inconclusive = spearman is None or blank > len(rhos) / 2
    return {"spearman": spearman, "spearman_per_input": rhos, "ssim": ssim, "n": len(rhos),
            "blank": blank, "inconclusive": inconclusive,
            "flagged": not inconclusive and spearman > threshold}


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) \
            or not -1.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be a number in (-1, 1), got {threshold!r}")
    return float(threshold)


def randomized_classifier(classifier, seed: int = 0):
    """The same architecture and card with its learnt weights scrambled: every weight tensor's values
    shuffled (seeded), so the learnt structure is gone while each layer keeps its scale.

    Re-initialising instead (Adebayo et al. use fresh random weights) fails on deep networks whose
    batch normalisation keeps its statistics: in the 27-layer MobileNet the signal shrinks layer by
    layer to about 1e-16, the output is the same for every image and every map is blank, so the check
    would pass every method without testing it.
    """
    import keras

    from model.classifier import Classifier
    rng = np.random.default_rng(int(seed))
    original = classifier.model.get_weights()
    clone = keras.models.clone_model(classifier.model)
    clone.set_weights([rng.permutation(w.ravel()).reshape(w.shape) if w.size > 1 else w for w in original])
    if not any(w.size > 1 and not np.array_equal(w, o) for w, o in zip(clone.get_weights(), original)):
        raise ValueError(f"scrambling the weights of model {classifier.card.id!r} left them unchanged; "
                         f"it may have no weights to scramble")
    return Classifier(classifier.card, clone, classifier.segmenter)


def randomization_sanity_check(classifier, inputs: np.ndarray, methods: Iterable[str] = REPORT_METHODS,
                               seed: int = 0, threshold: float = RANDOMISATION_THRESHOLD,
                               layer: str | None = None) -> dict:
    """Model-parameter randomisation test of Adebayo et al. (2018) for several methods.

    Every input is explained by the trained model and by the same architecture with its weights
    scrambled (`randomized_classifier`), for the class the trained model predicts. A method whose maps stay similar
    (mean Spearman above `threshold`) is `flagged`: its maps may reflect the image, not the model.

    Args:
        classifier: a `model.classifier.Classifier`.
        inputs: preprocessed images (N, S, S, C), N >= 1.
        methods: names from `model.explain.METHODS`.
        seed: seed of the random weights.
        threshold: similarity above which a method is flagged, in (-1, 1).
        layer: the layer the layer-based methods explain (None: the card's `explain_layer`).

    Returns:
        dict with `methods` ({method: `randomization_similarity` result, with `flagged`}),
        `threshold`, `seed` and `n`.
    """
    methods = [check_method(m) for m in methods]
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 4 or len(inputs) == 0:
        raise ValueError(f"inputs must be a non-empty (N, S, S, C) batch, got shape {inputs.shape}")
    threshold = _check_threshold(threshold)
    targets = [int(t) for t in np.argmax(classifier.predict_inputs(inputs), axis=1)]
    randomised = randomized_classifier(classifier, seed)
    results = {}
    for method in methods:
        # The map functions take an input's index, so each map is made for that input's target.
        results[method] = randomization_similarity(
            lambda i, method=method: classifier.explain_input(inputs[i], method, targets[i], layer).heatmap,
            lambda i, method=method: randomised.explain_input(inputs[i], method, targets[i], layer).heatmap,
            range(len(inputs)), threshold)
    return {"methods": results, "threshold": threshold, "seed": int(seed), "n": int(len(inputs))}
