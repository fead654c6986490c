"""Plotly figures: the data a reader sees in each chart, and the axes it is shown on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from model.metrics import classification_report
from model.prediction import Prediction
from model.present.charts import (
    calibration_figure,
    chosen_epoch,
    compare_curves,
    confusion_matrix_figure,
    curve_choice,
    per_class_table,
    probability_bar,
    roc_figure,
    training_curves,
)
from tests.support import LABELS


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    y_true = np.repeat([0, 1, 2], [10, 20, 30])
    probabilities = rng.dirichlet(np.ones(3), len(y_true))
    probabilities[np.arange(len(y_true)), y_true] += 0.6
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return classification_report(y_true, probabilities, LABELS)


def history(epochs: int = 4, offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"epoch": range(epochs), "loss": np.linspace(1.0, 0.5, epochs) + offset,
                         "val_loss": np.linspace(1.1, 0.7, epochs) + offset,
                         "accuracy": np.linspace(0.5, 0.9, epochs), "val_accuracy": np.linspace(0.4, 0.8, epochs),
                         "auc": np.linspace(0.6, 0.95, epochs), "val_auc": np.linspace(0.55, 0.9, epochs),
                         "learning_rate": np.full(epochs, 1e-3)})


def test_probability_bar_shows_every_class_in_percent_and_highlights_the_prediction():
    fig = probability_bar(Prediction(tuple(LABELS), np.array([0.1, 0.25, 0.65])))
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    bar = fig.data[0]
    assert bar.orientation == "h" and list(bar.y) == LABELS
    np.testing.assert_allclose(bar.x, [10, 25, 65])
    colours = list(bar.marker.color)
    assert colours[2] != colours[0] and colours[0] == colours[1]
    assert list(fig.layout.xaxis.range) == [0, 100]


def test_training_curves_one_subplot_per_metric_train_and_validation():
    fig = training_curves(history(), height=300)
    names = [t.name for t in fig.data]
    assert len(fig.data) == 6 and names.count("training") == 3 and names.count("validation") == 3
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Loss", "Accuracy", "AUC"]  # learning_rate is not a metric
    assert list(fig.data[0].x) == [1, 2, 3, 4], "epochs are counted from 1"
    np.testing.assert_allclose(fig.data[1].y, history()["val_loss"])
    assert fig.layout.height == 300


def test_training_curves_without_history_says_so():
    fig = training_curves(pd.DataFrame())
    assert not fig.data and "No training history" in fig.layout.annotations[0].text


def test_compare_curves_one_curve_per_model():
    fig = compare_curves({"tiny-a": history(), "tiny-b": history(6, 0.2), "no-history": pd.DataFrame()})
    assert [t.name for t in fig.data] == ["tiny-a", "tiny-b"]
    assert len(fig.data[1].x) == 6
    np.testing.assert_allclose(fig.data[1].y, history(6, 0.2)["val_loss"])
    assert len(compare_curves({"a": history()}, metric="val_auc").data) == 1


def test_histories_counted_from_one_are_not_shifted():
    keras_style = history(3)                                   # CSVLogger: epochs 0, 1, 2
    recipe_style = history(3).assign(epoch=[1, 2, 3])          # training.recipes: epochs 1, 2, 3
    fig = compare_curves({"v1": keras_style, "v2": recipe_style})
    assert [list(t.x) for t in fig.data] == [[1, 2, 3], [1, 2, 3]]
    assert chosen_epoch(recipe_style.assign(val_auc=[0.5, 0.9, 0.7])) == 2


def test_the_compare_chart_defaults_to_a_curve_the_versions_share():
    v1 = history(3)                                            # val_loss and val_auc
    v2 = history(3).drop(columns=["val_loss"])                 # the recipe trainer records no val_loss
    columns, default, missing = curve_choice({"v1": v1, "v2": v2, "none": pd.DataFrame()})
    assert default == "val_auc" and columns[0] == "val_auc" and "epoch" not in columns
    assert missing["val_loss"] == ["v2", "none"] and missing["val_auc"] == ["none"]
    assert curve_choice({"none": pd.DataFrame()}) == ([], None, {})
    only_loss = history(3)[["epoch", "loss"]]
    assert curve_choice({"a": only_loss})[1] == "loss"


def test_an_ensembles_history_gives_one_curve_per_member():
    members = pd.concat([history(4).assign(member="m1"), history(6, 0.2).assign(member="m2")], ignore_index=True)
    fig = compare_curves({"ens": members, "tiny-a": history()})
    assert [t.name for t in fig.data] == ["ens · member m1", "ens · member m2", "tiny-a"]
    assert [len(t.x) for t in fig.data[:2]] == [4, 6] and list(fig.data[1].x) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(fig.data[1].y, history(6, 0.2)["val_loss"])
    assert [t.name for t in compare_curves({"ens": members}).data] == ["m1", "m2"]


def test_a_member_two_versions_share_is_one_curve_naming_both():
    # v3 reuses v2's two members: their curves were drawn twice, one hiding the other.
    shared = history(4).assign(member="m1")
    v2 = pd.concat([shared, history(6, 0.2).assign(member="m2")], ignore_index=True)
    v3 = pd.concat([shared, history(5, 0.1).assign(member="m2")], ignore_index=True)  # same name, another run
    fig = compare_curves({"v3": v3, "v2": v2})
    assert [t.name for t in fig.data] == ["v3; v2 · member m1", "v3 · member m2", "v2 · member m2"]
    # Versions named in words keep their own commas apart from the list's.
    named = compare_curves({"MobileNet, two-channel v3": v3, "MobileNet, lung-masked v2": v2})
    assert named.data[0].name == "MobileNet, two-channel v3; MobileNet, lung-masked v2 · member m1"


def test_confusion_matrix_counts_and_normalisation(report):
    counts = np.array(report["confusion_matrix"])
    fig = confusion_matrix_figure(report)
    heat = fig.data[0]
    np.testing.assert_array_equal(np.array(heat.z), counts)
    assert list(heat.x) == LABELS and list(heat.y) == LABELS
    assert heat.text[1][1] == str(counts[1, 1])
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    normalised = np.array(confusion_matrix_figure(report, normalize=True).data[0].z)
    np.testing.assert_allclose(normalised.sum(axis=1), 1.0)
    np.testing.assert_allclose(normalised[2, 2], counts[2, 2] / 30)


def test_roc_one_curve_per_class_with_auc_and_diagonal(report):
    fig = roc_figure(report)
    assert len(fig.data) == len(LABELS) + 1
    for trace, label in zip(fig.data, LABELS):
        assert trace.name == f"{label} (AUC {report['per_class'][label]['auc']:.3f})"
        assert list(trace.x) == report["roc"][label]["fpr"]
    assert list(fig.data[-1].x) == [0, 1] and list(fig.data[-1].y) == [0, 1]


def test_roc_with_undefined_auc_says_na():
    single = classification_report([0, 0], [[0.9, 0.05, 0.05], [0.6, 0.3, 0.1]], LABELS)
    assert "AUC n/a" in roc_figure(single).data[0].name


def test_calibration_plots_non_empty_bins_with_ece_in_title(report):
    fig = calibration_figure(report)
    filled = [b for b in report["calibration"]["bins"] if b["count"]]
    points = fig.data[-1]
    assert len(points.x) == len(filled)
    np.testing.assert_allclose(points.y, [b["accuracy"] for b in filled])
    sizes = np.array(points.marker.size)
    assert sizes[np.argmax([b["count"] for b in filled])] == sizes.max()
    assert f"ECE {report['calibration']['ece']:.2f}" in fig.layout.title.text  # a score, as on every page


def test_the_reliability_diagram_keeps_its_legend_below_and_its_corner_markers_whole():
    """At 1366 px the legend beside the plot took a third of its width and the top bin's marker was cut at the top
    right: the legend lies below the plot and the axes reach past 0 and 1 by the largest marker's radius."""
    bins = [{"confidence": 0.995, "accuracy": 1.0, "count": 400}, {"confidence": 0.6, "accuracy": 0.5, "count": 4}]
    fig = calibration_figure({"calibration": {"bins": bins, "ece": 0.04}})
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b - 100  # less the axis title and legend
    radius = max(fig.data[-1].marker.size) / 2
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        low, high = axis.range
        assert low < 0 and high > 1 and (high - 1) / (high - low) * plot_px >= radius, axis.range


def test_per_class_table(report):
    table = per_class_table(report)
    assert list(table.columns) == ["class", "precision", "recall", "f1", "support", "auc"]
    assert list(table["class"]) == LABELS and list(table["support"]) == [10, 20, 30]
    assert table.loc[1, "recall"] == pytest.approx(report["per_class"]["Normal"]["recall"])


def test_faithfulness_figure_draws_both_curves_in_percent():
    from model.present.charts import faithfulness_figure

    curves = {"fractions": [0.0, 0.5, 1.0], "deletion": [0.9, 0.3, 0.1], "insertion": [0.1, 0.6, 0.9]}
    figure = faithfulness_figure(curves)
    # Named as the figures above the chart are ("While hiding", "While revealing"), not deletion / insertion.
    assert [trace.name for trace in figure.data] == ["while hiding", "while revealing"]
    assert list(figure.data[0].x) == [0.0, 50.0, 100.0] and list(figure.data[1].y) == [0.1, 0.6, 0.9]


def test_side_panel_curves_loss_and_auc_by_epoch_with_the_kept_epoch():
    from model.present.charts import chosen_epoch, panel_curves

    curves = history(5)
    curves.loc[3, "val_auc"] = 0.99  # the best validation AUC: epoch 4 counted from 1
    assert chosen_epoch(curves, "val_auc") == 4 and chosen_epoch(curves, "val_loss") == 5
    fig = panel_curves(curves)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == ["Loss by epoch", "AUC by epoch"]
    assert [t.name for t in fig.data if t.showlegend is not False] == ["training", "validation",
                                                                      "kept epoch (best validation AUC)"]
    assert [shape.x0 for shape in fig.layout.shapes] == [4, 4]
    assert fig.layout.legend.y < 0  # below the axes, not over them
    members = pd.concat([history(4).assign(member="m1"), history(6, 0.2).assign(member="m2")], ignore_index=True)
    names = [t.name for t in panel_curves(members).data if t.showlegend is not False]
    assert names[:4] == ["network 1 training", "network 1 validation", "network 2 training", "network 2 validation"]
    assert panel_curves(pd.DataFrame()) is None


def test_curves_of_averaged_weights_shade_the_averaged_epochs_instead_of_one_kept_epoch():
    from model.present.charts import averaged_epochs, chosen_epoch, history_metrics, panel_curves

    curves = history(6).assign(epoch=range(1, 7), averaged_epochs=[None, None, 1, 2, 3, 4])
    assert averaged_epochs(curves) == (3, 6) and chosen_epoch(curves) is None
    assert "averaged_epochs" not in history_metrics(curves) and curve_choice({"a": curves})[0].count("averaged_epochs") == 0
    fig = panel_curves(curves)
    assert [t.name for t in fig.data if t.showlegend is not False][-1] == "averaged epochs (the shipped weights)"
    assert [(shape.x0, shape.x1) for shape in fig.layout.shapes] == [(2.5, 6.5), (2.5, 6.5)]
    wide = training_curves(curves)
    assert {(shape.x0, shape.x1) for shape in wide.layout.shapes} == {(2.5, 6.5)}
    assert len(wide.layout.shapes) == len(history_metrics(curves)) and wide.data[-1].name.startswith("averaged")
    assert not training_curves(history(3)).layout.shapes
    assert averaged_epochs(history(3)) is None


def test_curves_of_a_history_that_logs_only_validation_metrics():
    from model.present.charts import history_metrics, panel_curves, training_curves

    # The shortcut trainer logs the training loss and only the validation AUC and accuracy.
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.2, 1.0, 0.9], "val_auc": [0.6, 0.7, 0.75],
                            "val_accuracy": [0.4, 0.5, 0.55], "learning_rate": [1e-3] * 3, "seconds": [80.0] * 3})
    assert history_metrics(history) == ["loss", "accuracy", "auc"]
    figure = training_curves(history)
    assert [trace.name for trace in figure.data] == ["training", "validation", "validation"]
    assert [trace.showlegend for trace in figure.data] == [True, True, False]  # both sides named once
    assert panel_curves(history) is not None


def test_shown_curves_are_the_preferred_columns_a_history_records():
    from model.present.charts import shown_curves

    keras_fit = pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.9], "val_loss": [1.1, 1.0], "val_auc": [0.6, 0.7]})
    own_loop = pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.9], "val_auc": [0.6, 0.7], "val_accuracy": [0.5, 0.6]})
    assert shown_curves(keras_fit) == ["val_auc", "val_loss"]
    assert shown_curves(own_loop) == ["val_auc", "val_accuracy"]  # no empty 'val_loss' chart
    assert shown_curves(pd.DataFrame()) == [] and shown_curves(None) == []


def test_late_trends_fit_each_run_and_read_the_direction_of_loss():
    from model.present.charts import late_trends
    from model.present.text import late_trend_sentence

    epochs = np.arange(1, 13)
    rising = pd.DataFrame({"epoch": epochs, "val_auc": 0.5 + 0.01 * epochs, "val_loss": 1.0 - 0.02 * epochs})
    flat = rising.assign(val_auc=0.8 + 0.002 * np.sin(epochs), val_loss=0.5 + 0.01 * np.cos(epochs))
    (auc,) = late_trends(rising)
    assert (auc.member, auc.epochs, auc.last_epoch, auc.improving) == (None, 8, 12, True)
    assert auc.change == pytest.approx(0.07)  # 7 epochs between the first and last of the window
    (loss,) = late_trends(rising, "val_loss")
    assert loss.change == pytest.approx(-0.14) and loss.improving  # falling loss is improving
    assert not late_trends(rising.assign(val_loss=0.5 + 0.02 * epochs), "val_loss")[0].improving
    assert not late_trends(flat)[0].improving and late_trend_sentence(late_trends(flat)) is None

    # An ensemble's history: one trend per member, each over its own last epochs; a gap is skipped.
    members = pd.concat([rising.assign(member="a"), flat.assign(member="b")], ignore_index=True)
    members.loc[members.index[-1], "val_auc"] = np.nan
    a, b = late_trends(members)
    assert (a.member, a.improving, b.member, b.improving, b.last_epoch) == ("a", True, "b", False, 11)
    sentence = late_trend_sentence([a, b])
    assert sentence.startswith("Validation AUC was still rising when training ended in 1 of 2 runs: +0.070 (a) ")
    assert "The run stopped at the epoch budget" in sentence
    assert late_trend_sentence(late_trends(rising, "val_loss")).startswith(
        "Validation loss was still falling when training ended: -0.140 over the last 8 epochs")

    # Too short, or no such column: nothing to say.
    assert late_trends(rising.head(2)) == [] and late_trends(rising, "val_precision") == []
    assert late_trends(None) == [] and late_trends(pd.DataFrame()) == []


def test_the_lung_share_sentence_says_most_only_of_more_than_half_as_shown():
    from model.present.text import lung_share_sentence

    assert lung_share_sentence(0.62, 0.334, "Grad-CAM").startswith("Most of the Grad-CAM map lies on the lungs "
                                                                    "(warning below 33.4%")
    assert lung_share_sentence(0.4999, 0.33, "Grad-CAM").startswith("Half of the")  # shown as 50.0%
    assert "(warning below 33.0%, set from this model's own correct answers)" in lung_share_sentence(0.62, 0.33, "Grad-CAM")
    default = lung_share_sentence(0.62, 0.5, "Grad-CAM", own=False)  # no scope check: the policy's level
    assert "(warning below 50.0%, the default: this model has no level of its own)" in default
    assert "own correct answers" not in default
    assert lung_share_sentence(0.498, 0.33, "Grad-CAM").startswith("Less than half")  # shown as 49.8%
    assert lung_share_sentence(0.5006, 0.33, "Grad-CAM").startswith("Most of the")  # shown as 50.1%
    below_half = lung_share_sentence(0.39, 0.33, "Grad-CAM++")
    assert below_half.startswith("Less than half of the Grad-CAM++ map lies on the lungs, but not unusually little")
    assert "Most" not in below_half and "warning below 33.0%" in below_half
    # Beside the level of a map with no preference for the lungs, compared as shown.
    assert ("A map spread evenly would put 37.0% there (the lungs' share of what the model saw); this one puts "
            "more.") in lung_share_sentence(0.39, 0.33, "Grad-CAM", 0.37)
    assert "; this one puts less." in lung_share_sentence(0.36, 0.33, "Grad-CAM", 0.37)
    assert "; this one puts as much." in lung_share_sentence(0.37004, 0.33, "Grad-CAM", 0.37)
    assert "spread evenly" not in below_half


def test_a_lung_share_reads_the_same_on_every_view():
    """Card, dialog, Diagnose and the warnings show a film's share to 0.1%: never 49.8% on one, 50% on another."""
    from model.present.text import lung_share

    assert lung_share(0.498) == "49.8%" and lung_share(0.327) == "32.7%" and lung_share(0.5) == "50.0%"


def test_the_compare_chart_names_its_curve_in_words_and_shades_averaged_members():
    """Compare's chart is titled "Validation AUC", not "val_auc", and the epochs whose weights were averaged
    are shaded for an ensemble's members as for a single model, one legend entry per span naming its models."""
    from model.present.charts import curve_name

    assert [curve_name(c) for c in ("val_auc", "val_accuracy", "loss", "val_precision", "learning_rate")] == [
        "Validation AUC", "Validation accuracy", "Training loss", "Validation precision", "Learning rate"]
    averaged = history(6).assign(epoch=range(1, 7), averaged_epochs=[None, None, 1, 2, 3, 4])
    members = pd.concat([averaged.assign(member="m1"), averaged.assign(member="m2")], ignore_index=True)
    alone = compare_curves({"ens": members}, metric="val_auc")
    assert alone.layout.title.text == "Validation AUC" and alone.layout.yaxis.title.text == "Validation AUC"
    assert [(s.x0, s.x1) for s in alone.layout.shapes] == [(2.5, 6.5)]  # both members: one span, shaded once
    assert [t.name for t in alone.data] == ["m1", "m2", "averaged epochs (the shipped weights)"]
    later = history(8).assign(epoch=range(1, 9), averaged_epochs=[None] * 4 + [1, 2, 3, 4])
    several = compare_curves({"ens": members, "scratch": later, "plain": history()}, metric="val_auc")
    assert sorted((s.x0, s.x1) for s in several.layout.shapes) == [(2.5, 6.5), (4.5, 8.5)]
    assert [t.name for t in several.data if t.name.startswith("averaged")] == [
        "averaged epochs of ens (the shipped weights)", "averaged epochs of scratch (the shipped weights)"]
    assert not compare_curves({"plain": history()}, metric="val_auc").layout.shapes  # nothing averaged: no shade
