"""Sentences of `model.present.text` that pages show about a model: what they say follows the card."""
from model.present.text import lung_attention_caption, preprocessing_summary
from model.registry import PACKAGE_REGISTRY, read_card


def test_the_lung_attention_caption_names_both_lines_and_what_lies_outside_for_this_model():
    masked = lung_attention_caption("lungs-unet-v1", 0.5, 0.334, lung_mask=True)
    assert masked.startswith("Lung masks from lungs-unet-v1. Below 50.0% a map lies mostly outside the lungs; this "
                             "model's own warning level is 33.4%")
    # A model that sees only the lungs cannot be reading text or devices: the caption must not say it may be.
    assert "spills onto that margin, not onto text, borders or devices" in masked and "possible shortcuts" not in masked
    whole = lung_attention_caption("lungs-unet-v1", 0.5, None, lung_mask=False)
    assert "own warning level" not in whole and "text markers, borders and devices: possible shortcuts" in whole


def test_the_preprocessing_summary_tells_a_masked_version_from_a_cropped_one():
    masked = preprocessing_summary(read_card("cxr-mobilenet-v2", PACKAGE_REGISTRY))
    cropped = preprocessing_summary(read_card("cxr-ensemble-lungs-v1", PACKAGE_REGISTRY))
    assert "cropped to the lung fields" in masked and "everything outside the lungs blacked out" in masked
    assert "cropped to the lung fields" in cropped and "blacked out" not in cropped


def test_the_status_asks_to_state_what_it_assumed_by_name():
    from model.present.text import state_prompt
    from model.trust.findings import Finding

    age = Finding("age_not_known", "assumption", "reader", "Age not known.")
    view = Finding("view_not_known", "assumption", "reader", "View not known.")
    assert state_prompt([age, view]) == "State the age and view in the side panel, under *About this film*."
    assert state_prompt([view]) == "State the view in the side panel, under *About this film*."
    assert state_prompt([]) == ""
    assert state_prompt([age, view], "uncertain") == state_prompt([age, view])  # a second read still rests on them
    assert state_prompt([age, view], "out_of_scope") == ""  # no answer given: nothing rests on them


def test_a_low_share_on_the_lungs_reads_the_same_in_the_status_and_under_the_figure():
    """The review's case (Compact CNN v2, no level of its own: the default 50%): 41.6% on the lungs, above an
    even spread (31.9%). The status said "little of the map on the lungs" and the line "more than a map spread
    evenly would put there": both now say the share is below the warning level, and the line leads with it."""
    import numpy as np

    from model.present.text import names_of
    from model.trust.attention import lung_attention
    from model.trust.map_checks import MapChecks, map_findings

    mask = np.zeros((100, 100), bool)
    mask[10:90, 10:50] = True  # 3,200 of 10,000 pixels
    heat = np.where(mask, 0.416 / mask.sum(), 0.584 / (~mask).sum())
    attention = lung_attention(heat, mask, own=False)
    [finding] = map_findings(MapChecks(attention=attention))
    assert names_of([finding]) == "less of the map on the lungs than the warning level"
    assert attention.warning.startswith("41.6% of this map lies on the lung fields, below the warning level of 50.0% "
                                        "(the default: this model has no level of its own), though more than a map "
                                        "spread evenly would put there (32.0%")
