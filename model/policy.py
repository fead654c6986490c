"""Policy numbers in one place: thresholds that decide what a reader is told, and display defaults.

Each number is a choice, not a measurement; the modules that apply them import them from here so
that a change is made once and shows in every page, report and command alike.
"""
from __future__ import annotations

# Test-time-augmentation uncertainty (`model.trust.uncertainty`): the prediction is uncertain when
# the top class's mean probability is below the model's own threshold (at most its UNCERTAIN_QUANTILE
# on the validation split, within UNCERTAIN_BUDGET, set by `training.fit_scope`; MIN_TOP_PROBABILITY for a model without one) or
# when fewer than MIN_AGREEMENT of the perturbed copies give the top class.
MIN_TOP_PROBABILITY = 0.6
MIN_AGREEMENT = 0.75
UNCERTAIN_QUANTILE = 0.1
# Together, the soft findings that make an answer `uncertain` (low top probability, disagreeing
# copies, an unusual film, a non-blocking input warning) may hold back at most this share of the
# model's validation images: the top-probability threshold is lowered below the UNCERTAIN_QUANTILE
# until they do (never below the floor `training.fit_scope` keeps). One in ten films for a second read.
UNCERTAIN_BUDGET = 0.10
# The agreement level is the strictest of AGREEMENT_LEVELS that flags at most AGREEMENT_QUANTILE of
# the model's validation images (a model whose copies often disagree a little gets a looser level).
AGREEMENT_LEVELS = (0.75, 0.625, 0.5)
AGREEMENT_QUANTILE = 0.05
UNCERTAIN_MESSAGE = "Second read advised."  # said to the reader, who is the radiologist

# Input check (`model.trust.input_check`).
MAX_COLOURFULNESS = 15.0    # Hasler & Suesstrunk: 15 is where "slightly colourful" begins.
ASPECT_RANGE = (0.6, 1.7)   # width / height
MIN_CONTRAST = 0.05         # 1st-99th percentile spread of the [0, 1] pixels
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG"})
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"})
CHEST_PARTS = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS"})

# Lung attention (`model.trust.attention`): the warning fires below this model's own threshold, the
# LUNG_ATTENTION_QUANTILE of the share of its Grad-CAM inside the lungs on correctly classified
# validation images (`training.fit_scope`); a model without one falls back to LOW_LUNG_ATTENTION.
LOW_LUNG_ATTENTION = 0.5
LUNG_ATTENTION_QUANTILE = 0.1

# Model-parameter randomisation (`model.trust.sanity`): mean Spearman similarity above which a
# method's maps are flagged as not depending on the weights.
RANDOMISATION_THRESHOLD = 0.5

# Methods the per-model explanation report measures (names from `model.explain.METHODS`).
REPORT_METHODS = ("gradcam", "gradcam++", "scorecam", "smoothgrad")

# Display defaults of the overlay (`model.present.overlay.render_overlay` and the pages).
DEFAULT_OPACITY = 0.45
DEFAULT_COLORMAP = "inferno"  # perceptually uniform
# Measured on six films with the ensemble: at 0.2 about 64 % (Grad-CAM) to 99 % (Grad-CAM++, LayerCAM) of
# the region stayed tinted; at 0.5, 28 % and 44 %: the weak half of the map is hidden.
DEFAULT_MAP_THRESHOLD = 0.5

# Who the models are for, said on the Diagnose page, in the report, the README and every card.
INTENDED_POPULATION = ("Adult frontal (PA or AP) chest radiographs. The models know three answers only: COVID-19, "
                       "normal, or other (non-COVID) pneumonia; any other disease (tuberculosis, tumours, heart "
                       "failure, ...) is forced into one of them. Not validated for children.")
