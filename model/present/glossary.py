"""Every technical term the pages use, each with one plain line: the pages' glossaries ("Words used here") and
the source of their tooltips, so a term is explained once and the same way everywhere. `GLOSSARY` holds the
Diagnose page's terms (its glossary lists them all), `MORE_TERMS` the terms only the other pages use;
`PAGE_TERMS` names the terms each of those pages lists, and `WORDS` the words a page prints for each term, so
a test can find a word on a page whose glossary lacks it."""
from __future__ import annotations

import re

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

# Terms the other pages use and Diagnose does not: one plain line each, looked up by the same `explain`.
MORE_TERMS = {
    "AUROC of the scope check": "How well the anatomy check tells a held-out source's films from the other sources': "
                                "0.5, it cannot tell them apart, as it should for clean adult films; 1, it always "
                                "finds them odd.",
    "Unusual / out of scope (shares)": "The shares of films the anatomy check would flag for a second read "
                                       "(unusual) or hold back (out of scope): for clean adult films, low is right.",
    "Spearman": "Spearman's rank correlation, the measure behind map similarity: it compares the order of two maps' "
                "regions from strongest to weakest, not their colours.",
    "SSIM": "Structural similarity: how alike two maps look patch by patch (1 identical, 0 unrelated), a second "
            "measure beside the rank similarity.",
    "Mean agreement between methods": "The map similarity of every pair of methods, averaged over the test films: "
                                      "near 1 the methods point at the same regions, near 0 at unrelated ones.",
    "Precision": "Of the films the model called one class, the share that truly were that class.",
    "F1": "A class's precision and recall in one figure (their harmonic mean): 1 every film right, 0 none.",
    "Macro F1": "The F1 of each class averaged over the three classes, so a small class weighs as much as a large "
                "one.",
    "Calibration error (ECE)": "The mean gap between how sure the model says it is and how often it is right; 0 is "
                               "ideal.",
    "Deletion / insertion AUC": "The class's average probability while the map's top regions are hidden first "
                                "(deletion: lower is better) or revealed first on a blurred film (insertion: higher "
                                "is better).",
    "Bootstrap interval": "The range (95%) a figure covers when the same images are drawn again at random many "
                          "times: how far it could move with other films like these.",
    "Paired comparison": "Two versions judged on the very same images, resampled together, so that the images "
                         "chosen do not blur their difference.",
    "Confusion matrix": "True classes (rows) against the model's answers (columns): the diagonal holds the films "
                        "called right.",
    "ROC curve": "For one class against the rest: the share of its films found against the share of the others "
                 "wrongly called it, at every threshold; the area under it is the AUC.",
    "Reliability diagram": "How often the model was right against how sure it said it was, in bands of "
                           "confidence; a calibrated model lies on the diagonal.",
    "Validation split": "Films kept out of training to choose the epoch, the temperature and the thresholds; the "
                        "test split is kept out of both.",
    "Test split": "Films of patients the model never trained on, from the collections it trained on, kept for the "
                  "final figures.",
    "Epoch": "One pass of training over all the training films.",
    "Source probe": "A simple classifier on the model's internal features that tries to tell which collection a "
                    "film came from, within one class: near chance is good.",
    "Balanced accuracy": "Accuracy averaged over the groups (here the collections), so a large one cannot carry "
                         "it; guessing gives one over their number.",
    "Held-out source": "A collection left out of training and used only for testing: the nearest stand-in for "
                       "another hospital.",
    "Within-source AUC": "The AUC among the films of one collection only, where the collection's look cannot give "
                         "the class away.",
    "ImageNet": "A large public collection of everyday photographs; networks first trained on it are then adapted "
                "to X-rays.",
}

# The terms each page other than Diagnose lists under "Words used here" (Diagnose lists `GLOSSARY` whole).
PAGE_TERMS = {
    "performance": ("Accuracy", "AUC", "Macro AUC", "Precision", "Recall", "F1", "Macro F1",
                    "Calibration error (ECE)", "Bootstrap interval", "Confusion matrix", "ROC curve",
                    "Reliability diagram", "Validation split", "Test split", "Epoch", "Within-source AUC",
                    "Source probe", "Balanced accuracy", "Held-out source", "Out of scope", "Anatomy check",
                    "AUROC of the scope check", "Unusual / out of scope (shares)", "Lung-field attention",
                    "Grad-CAM", "Faithfulness", "Deletion / insertion AUC", "Randomisation check", "Map similarity",
                    "Spearman", "SSIM", "Mean agreement between methods", "Grad-CAM++", "LayerCAM", "Score-CAM",
                    "SmoothGrad", "Temperature", "ImageNet"),
    "compare": ("AUC", "Macro AUC", "Precision", "Recall", "F1", "Macro F1", "Calibration error (ECE)",
                "Bootstrap interval", "Paired comparison", "Validation split", "Test split", "Epoch",
                "Within-source AUC", "Source probe", "Balanced accuracy", "Held-out source", "Out of scope",
                "Grad-CAM", "Grad-CAM++", "LayerCAM", "Score-CAM", "SmoothGrad", "Lung-field attention",
                "Faithfulness", "Deletion / insertion AUC", "Randomisation check", "Map similarity", "Spearman",
                "Temperature"),
    "evaluate": ("AUC", "Macro AUC", "Precision", "Recall", "F1", "Macro F1", "Calibration error (ECE)",
                 "Bootstrap interval", "Paired comparison", "ROC curve", "Confusion matrix", "Within-source AUC",
                 "Validation split", "Test split", "Epoch", "Temperature", "Out of scope", "Grad-CAM"),
}

# Words as the pages print them (whole words, case as printed), each with the term that explains it: a page that
# prints the word must list the term.
WORDS = {
    "AUROC": "AUROC of the scope check", "SSIM": "SSIM", "Spearman": "Spearman", "F1": "F1", "Macro F1": "Macro F1",
    "macro F1": "Macro F1", "ECE": "Calibration error (ECE)", "calibration error": "Calibration error (ECE)",
    "AUC": "AUC", "macro AUC": "Macro AUC", "Macro AUC": "Macro AUC", "precision": "Precision",
    "recall": "Recall", "Recall": "Recall", "deletion AUC": "Deletion / insertion AUC",
    "insertion AUC": "Deletion / insertion AUC", "bootstrap": "Bootstrap interval", "Bootstrap": "Bootstrap interval",
    "paired comparison": "Paired comparison", "Paired comparison": "Paired comparison",
    "confusion matrix": "Confusion matrix", "Confusion matrix": "Confusion matrix", "ROC": "ROC curve",
    "Reliability diagram": "Reliability diagram", "validation": "Validation split", "Validation": "Validation split",
    "test split": "Test split", "epoch": "Epoch", "Within source": "Within-source AUC",
    "within source": "Within-source AUC", "Source probe": "Source probe", "source probe": "Source probe",
    "balanced accuracy": "Balanced accuracy", "held-out source": "Held-out source",
    "Held-out sources": "Held-out source", "out of scope": "Out of scope", "Out of scope": "Out of scope",
    "Grad-CAM": "Grad-CAM", "Grad-CAM++": "Grad-CAM++", "LayerCAM": "LayerCAM", "Score-CAM": "Score-CAM",
    "SmoothGrad": "SmoothGrad", "Lung-field attention": "Lung-field attention", "Lung attention": "Lung-field attention",
    "Faithfulness": "Faithfulness", "Randomisation sanity check": "Randomisation check",
    "Mean agreement": "Mean agreement between methods", "map similarity": "Map similarity",
    "ImageNet": "ImageNet", "temperature": "Temperature",
}


def explain(term: str) -> str:
    """The one-line explanation of a glossary term (KeyError for a term not in it: add it to `GLOSSARY` for a
    term Diagnose uses, else to `MORE_TERMS`)."""
    return GLOSSARY[term] if term in GLOSSARY else MORE_TERMS[term]


def explained(*terms: str) -> str:
    """A tooltip of those terms, one "**term**: line" each (`explain`), for a table or caption that uses them."""
    return "  \n".join(f"**{term}**: {explain(term)}" for term in terms)


def page_glossary(page: str) -> dict[str, str]:
    """{term: its line} of the terms a page lists under "Words used here" ("diagnose", or a `PAGE_TERMS` key)."""
    return dict(GLOSSARY) if page == "diagnose" else {term: explain(term) for term in PAGE_TERMS[page]}


def terms_used(text: str) -> set[str]:
    """The terms whose words (`WORDS`, as whole words) the text prints."""
    return {term for word, term in WORDS.items() if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w+-])", text)}
