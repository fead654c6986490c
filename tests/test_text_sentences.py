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
