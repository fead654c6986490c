"""Every technical term the Diagnose page uses, each with one plain line: the page's glossary and the
source of its tooltips, so a term is explained once and the same way everywhere."""
from __future__ import annotations

from model.policy import LOW_AGREEMENT, MOST_METHODS_SHARE
from model.present.text import STABLE_SPREAD
from model.trust.faithfulness import CHANCE_MARGIN

STABLE_POINTS = f"{100 * STABLE_SPREAD:.1f}"  # as the page shows a spread: one decimal
MOST_HALF = "half" if MOST_METHODS_SHARE == 0.5 else f"{MOST_METHODS_SHARE:.0%}"

GLOSSARY = {
    "Probability": "The model's output for the film: how likely it finds each of its three classes. Not a "
                   "diagnosis.",
    "Calibrated": "Adjusted on films the model did not train on so that, on such films, 80% means right about "
                  "8 times in 10.",
    "Stable / varies / unstable": "Over slightly changed copies of the film: stable, the probability moves "
                                  f"under {STABLE_POINTS} points as shown; varies, {STABLE_POINTS} or more; "
                                  "unstable, fewer of film and copies give the answer than the model needs.",
    "Answer level": "The probability a model needs to answer on its own (set on its validation films, else the "
                    "default); changed copies under it are counted; more than a model allows mean a second read.",
    "Temperature": "The single number the model's raw outputs are divided by so that its probabilities are "
                   "calibrated (fitted on its validation films).",
    "Two-channel": "A model fed two pictures at once: the film and its lung-field mask (white on the lungs, black "
                   "elsewhere), so it knows where the lungs are.",
    "Lung-masked network": "A network that sees only the lung fields: everything outside the lungs found on the film "
                           "is blacked out before it reads it.",
    "Second read advised": "The model's answer is shown, but a check found a reason to doubt it: a reader "
                           "should decide.",
    "Out of scope": "A film the model was not made for (a child, a lateral view, another kind of image): its "
                    "output would be a guess and is held back.",
    "Anatomy check": "Compares the size, shape and position of the lungs on the film with the adult films the "
                     "model learnt from.",
    "Explanation map": "Colours the parts of the film that pushed the model towards a class; it shows where the "
                       "model looked, not that it is right.",
    "Grad-CAM": "A map from how strongly each part of a layer's picture of the film raises the class's score.",
    "Grad-CAM++": "A variant of Grad-CAM that gives several separate findings their own weight.",
    "LayerCAM": "A variant of Grad-CAM that keeps finer detail from the layer.",
    "Score-CAM": "A map from how much each part of a layer's picture, shown alone, raises the class's score; "
                 "slower.",
    "No gradients": "Said of Score-CAM: it does not use how fast the score changes (the gradients), so it escapes "
                    "their noise, but runs the model once per feature: slower.",
    "SmoothGrad": "Which pixels change the score most, averaged over noisy copies of the film; no layer.",
    "Occlusion": "Hides one patch of the film at a time and measures how much the probability falls.",
    "Layer": "A stage inside the network; deeper (later) layers give coarser maps that are more about the class, "
             "early ones outline edges.",
    "Last block": "The network's deepest stage, whose picture of the film the answer is read from.",
    "(activated)": "In a layer's name: its output after the activation step, which sets negative values to zero, "
                   "as the next layer reads it.",
    "Colour bar": "From weak (left) to strong (right) evidence; each map is scaled to its own maximum.",
    "Hide below": "Map values under this share of the maximum are not coloured, so faint evidence does not cover "
                  "the anatomy.",
    "Percentage points": "The difference between two percentages: from 47% to 30% is 17 points.",
    "Hiding cells": "The film classified again with the chosen cells hidden (blurred, greyed or blacked out, as "
                    "chosen): a large fall means the model relied on them.",
    "Lung-field attention": "How much of the map lies on the lungs, found by a separate lung-outline model.",
    "Faithfulness": "Whether hiding (or revealing) what the map ranks highest moves the probability more than "
                    f"random regions cut like the map's cells do, by more than {CHANCE_MARGIN}.",
    "Random regions cut like this map's cells": "The faithfulness check's chance level: the film hidden or revealed "
                                                "in random orders of cells as coarse as the map's own.",
    "Area under the curve": "Here, the class's average probability over a whole hiding or revealing curve: one figure "
                            "per curve.",
    "Map similarity": "How alike two maps rank the film's regions (rank correlation: 1 same order, 0 unrelated, "
                      f"below 0 opposite). Below {LOW_AGREEMENT:+.2f} two maps draw other regions; a blank map's is "
                      "not measured.",
    "Agreement between methods": f"How many other distinct maps (occlusion included, identical maps once, all of "
                                 f"one layer where a method uses one) reach {LOW_AGREEMENT:+.2f} with the map "
                                 "shown; the page cautions when more than "
                                 f"{MOST_HALF} of them do not.",
    "Randomisation check": "Maps of a model whose weights were scrambled should look different; if they do not, "
                           "the method shows the image more than the model.",
    "Accuracy": "The share of the model's test films it called right, on films from the hospitals it learnt from.",
    "Recall": "Of the test films of one class, the share the model called that class.",
    "AUC": "How well the model ranks films of a class above the others: 1 perfectly, 0.5 no better than chance.",
    "Macro AUC": "The AUC of each class against the others, averaged over the three classes.",
    "While hiding / while revealing": "The curves of the faithfulness check: the probability as the map's highest "
                                      "regions are hidden first or revealed first on a blurred film (deletion and "
                                      "insertion, in the literature).",
    "Network 1 / ensemble": "A version that averages several trained networks: 'network 1' is the first of them, "
                            "the ensemble their average, which gives the answer.",
    "Pointwise / depthwise convolution": "The two steps of a MobileNet block: one looks at each channel's "
                                         "neighbourhood (depthwise), the other mixes channels (pointwise).",
    "Window and level": "Contrast (window) and brightness (level) of the film, as on a PACS viewer.",
}


def explain(term: str) -> str:
    """The one-line explanation of a glossary term (KeyError for a term not in it: add it there)."""
    return GLOSSARY[term]
