"""How far to trust one prediction and its explanation: checks built on the classifier's own API.

    faithfulness.faithfulness(clf, x, heat, class_index)      # deletion/insertion vs random orders
    uncertainty.tta_uncertainty(clf, model_input)             # spread under small image changes
    input_check.input_check(pixels, metadata, lung_mask)      # is this a frontal chest X-ray?
    attention.lung_attention(heat_on_image, lung_mask)        # shortcut warning when mostly outside
    agreement.method_agreement({"gradcam": a, "scorecam": b}) # do methods agree?
    sanity.randomization_sanity_check(clf, inputs)            # Adebayo et al. 2018

Results are small dataclasses with `to_dict` / `from_dict`, as stored in reports.
"""
