"""Policy numbers in one place: thresholds that decide what a reader is told, and display defaults.

Each number is a choice, not a measurement; the modules that apply them import them from here so
that a change is made once and shows in every page, report and command alike.
"""
from __future__ import annotations

# The answer's own figures (`model.trust.uncertainty`). The probability is the calibrated single pass
# (`Classifier.predict_input`), the one figure every view shows; the slightly changed test-time copies
# only measure its stability. The answer is uncertain when that probability is below the model's own
# threshold (`training.fit_scope`: the lowest that keeps the accuracy of its answered validation films at
# TARGET_ANSWERED_ACCURACY, never below MIN_TOP_FLOOR; MIN_TOP_PROBABILITY for a model without one) or
# when fewer than the model's agreement level of the copies give the same class.
MIN_TOP_PROBABILITY = 0.6
MIN_TOP_FLOOR = 0.6   # a top probability under 60 % among three classes never reads as a plain answer
MIN_TOP_CEILING = 0.99
TARGET_ANSWERED_ACCURACY = 0.9
MIN_AGREEMENT = 0.75
# The agreement level is the strictest of AGREEMENT_LEVELS that flags at most AGREEMENT_QUANTILE of
# the model's validation images (a model whose copies often disagree a little gets a looser level).
AGREEMENT_LEVELS = (0.75, 0.625, 0.5)
AGREEMENT_QUANTILE = 0.05
UNCERTAIN_MESSAGE = "Second read advised."  # said to the reader, who is the radiologist

# Scope facts (`model.trust.facts`): younger than this is a child, whom the models were not made for.
ADULT_AGE = 18
MAX_AGE = 130  # Oldest age a reader or a header may state, in whole years.

# Input check (`model.trust.input_check`).
MAX_COLOURFULNESS = 15.0    # Hasler & Suesstrunk: 15 is where "slightly colourful" begins.
ASPECT_RANGE = (0.6, 1.7)   # width / height
MIN_CONTRAST = 0.05         # 1st-99th percentile spread of the [0, 1] pixels
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG"})
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"})
FRONTAL_VIEWS = frozenset({"PA", "AP", "APS", "AP SUPINE", "PA ERECT", "AP ERECT"})
CHEST_PARTS = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS"})

# Map checks (`model.trust.map_checks`): two maps whose rank similarity is below this disagree ("little
# agreement" in the words of `model.present.method_grid`).
LOW_AGREEMENT = 0.3
# From here two maps agree at least moderately: an occlusion map this close to the map read backs it, and
# the comparison of every method does not tell the reader to trust none of the maps.
MODERATE_AGREEMENT = 0.4
# Two methods whose maps are at least this similar drew the same map (Grad-CAM++ and LayerCAM at a layer the
# model reads out linearly, +1.00 on every pool film with v3): counted once, not as two methods agreeing.
SAME_MAP = 0.995
# The comparison of every method judges the map being read, not the mean of every pair: it cautions when that
# map agrees little with more than this share of the other distinct maps (occlusion counted as one of them).
# Measured with v3 on ten pool films, all six maps: the mean of every pair (+0.05..+0.19) was below
# LOW_AGREEMENT on every film, so a caution on it said nothing; judged this way Grad-CAM's map is cautioned on 5
# of the 10 (those where occlusion and most gradient maps draw other regions), Grad-CAM++'s on 3, Score-CAM's
# (a map drawn mostly outside the others' regions) on 9 and SmoothGrad's (scattered pixels, no regions) on all 10.
MOST_METHODS_SHARE = 0.5

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
# A pixel-level map (SmoothGrad: scattered dots) coloured on less than FAINT_MAP_SHARE of its region at
# the chosen threshold gets a line suggesting the highest threshold that colours at least FAINT_MAP_SUGGESTED
# of it. Measured with the v3 default on ten films at 0.5: SmoothGrad's dots cover 0.8-9.6 % of the region
# and read as faint specks; region maps (Grad-CAM family, occlusion) 3.9-34.5 %, read as patches. A quarter is
# about the middle of the region maps' range at 0.5 (median ~15 %), raised because single dots read fainter.
FAINT_MAP_SHARE = 0.1
FAINT_MAP_SUGGESTED = 0.25

# Who the models are for, said on the Diagnose page, in the report, the README and every card.
INTENDED_POPULATION = ("Adult frontal (PA or AP) chest radiographs. The models know three answers only: COVID-19, "
                       "normal, or other (non-COVID) pneumonia; any other disease (tuberculosis, tumours, heart "
                       "failure, ...) is forced into one of them. Not validated for children.")
