"""Sentences of `model.present.text` that pages show about a model: what they say follows the card."""
from model.present.text import lung_attention_caption, preprocessing_summary
from model.registry import PACKAGE_REGISTRY, read_card


def test_the_lung_attention_caption_names_both_lines_and_what_lies_outside_for_this_model():
    masked = lung_attention_caption("lungs-unet-v1", 0.5, 0.334, lung_mask=True)
    assert masked.startswith("Lung masks from lungs-unet-v1. Below 50.0% more than half of a map lies outside the "
                             "lungs, which alone proves no shortcut")
    assert "this model's own warning level, 33.4%" in masked
    # A model that sees only the lungs cannot be reading text or devices: the caption must not say it may be.
    assert "spills onto that margin and the black, not onto text, borders or devices" in masked
    assert "possible shortcuts" not in masked
    whole = lung_attention_caption("lungs-unet-v1", 0.5, None, lung_mask=False)
    assert "own warning level" not in whole and "text markers, borders and devices: possible shortcuts" in whole
    assert "the warning level of 50.0% (the default" in whole  # the level Diagnose warns at without a scope check


def test_the_lung_attention_caption_never_says_a_lung_masked_model_sees_what_it_then_says_it_does_not():
    """The review: a lung-masked model's caption said "the lungs fill less than half of what a model sees" and then
    "This model sees only the lung fields". Such a model's map lies on a grid over its lung box, of which the lungs
    fill only part: that is said, and no kind of model is told the lungs fill less than half of what it sees."""
    masked = lung_attention_caption("lungs-unet-v1", 0.5, 0.394, lung_mask=True)
    assert "map lies on a coarse grid over the whole lung box, of which the lung fields fill only part" in masked
    assert "sees only the lung fields" in masked and "fill only part of what a model sees" not in masked
    for lung_mask, mask_channel in ((True, False), (False, False), (False, True)):
        caption = lung_attention_caption("lungs-unet-v1", 0.5, 0.3, lung_mask, mask_channel)
        assert "less than half of what a model sees" not in caption


def test_the_lung_attention_caption_names_the_pages_that_warn():
    """Diagnose, Compare versions and the Gallery mark a map below the level; Performance only counts them."""
    from model.present.text import LUNG_WARNING_PAGES

    assert LUNG_WARNING_PAGES == "Diagnose, Compare versions and the Gallery"
    for own in (0.3, None):
        caption = lung_attention_caption("lungs-unet-v1", 0.5, own, lung_mask=False)
        assert f"where {LUNG_WARNING_PAGES} warn" in caption and "Performance" not in caption


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


def test_a_default_level_is_named_the_same_way_on_every_view():
    """A model without a scope check is measured against the policy's levels. The status's lung warning, the line
    beside the share, the gallery's answer level, its lung summary and the cheating view's level line each said
    so in their own words ("no scope check", "no scope check of its own", "no level of its own"); one function
    (`model.trust.scope.default_level`) now words it, as the status's warning did."""
    from dataclasses import replace

    import numpy as np

    from model.present.cheating_view import count_cheats, own_level_sentence
    from model.present.gallery_cases import count_cases, lung_summary
    from model.present.text import answer_level_name, lung_share_sentence
    from model.trust.attention import lung_attention
    from tests.test_gallery import make_case

    reason = "(the default: this model has no level of its own)"
    mask = np.zeros((100, 100), bool)
    mask[10:90, 10:50] = True
    low = lung_attention(np.where(mask, 0.3 / mask.sum(), 0.7 / (~mask).sum()), mask, own=False)
    # both maps put less on the lungs than an even spread (40%) would: the cheating view flags both
    cases = [replace(make_case("a", confidence=0.95, lung_share=0.1), lung_even=0.4),
             replace(make_case("b", confidence=0.9, lung_share=0.3), lung_even=0.4)]
    said = {
        "warning": low.warning,
        "answer level": answer_level_name(0.6, own=False),
        "cheating view": own_level_sentence(count_cheats(cases, 0.8, 1.0, 0.2), own=False),
        "gallery summary": lung_summary(count_cases(10, 2, cases, shown=2), 0.2, own=False),
    }
    assert "below the warning level of 50.0% " + reason in said["warning"]
    assert said["answer level"] == "the answer level of 60.0% " + reason
    pages = ", where Diagnose, Compare versions and the Gallery warn"
    assert "the warning level " + reason + pages in said["cheating view"]
    assert "below 20.0%, the warning level " + reason + pages in said["gallery summary"]
    beside = lung_share_sentence(0.62, 0.5, "Grad-CAM", own=False)
    assert "(warning below 50.0%, the default: this model has no level of its own)" in beside
    for sentence in [*said.values(), beside]:
        assert "scope check" not in sentence and "own correct answers" not in sentence
