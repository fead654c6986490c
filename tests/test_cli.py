"""`python -m model.predict`: JSON, overlay and heatmap outputs, and hostile input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from model import predict
from model.present.text import DISCLAIMER
from tests.support import png_bytes, synthetic_radiograph

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def scans(tmp_path):
    good = tmp_path / "chest.png"
    good.write_bytes(png_bytes(synthetic_radiograph(90, width=120)))
    other = tmp_path / "second.png"
    other.write_bytes(png_bytes(synthetic_radiograph(80, seed=4)))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    return good, other, corrupt


def test_json_has_model_prediction_and_probabilities(registry_env, scans, capsys):
    assert predict.main([str(scans[0]), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["model"] == "tiny-a"
    assert set(record["probabilities"]) == {"COVID-19", "Normal", "Pneumonia"}
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert record["prediction"] == max(record["probabilities"], key=record["probabilities"].get)
    # The answer is the one every page shows: the film's own calibrated pass.
    from model.classifier import Classifier
    from model.inputs.intake import load_xray

    clf = Classifier.load("tiny-a", registry_env)
    pixels = load_xray(scans[0]).pixels
    assert record["probabilities"] == pytest.approx(clf.predict_input(clf.prepare(pixels)).as_dict(), abs=1e-5)
    assert record["assumptions"] == ["Age not known: answered as for an adult (state the age if the patient is a child).",
                                     "View not known: read as a frontal (PA or AP) film."]
    # Cautions are said of an answer only (an uncertain or held-back film has none to read with care).
    assert all(isinstance(c, str) for c in record["cautions"]) and (record["status"] == "answer" or not record["cautions"])
    # The text output names the assumptions whatever the status (uncertain films rest on them too).
    assert predict.main([str(scans[0])]) == 0
    text = capsys.readouterr().out
    assert all(sentence in text for sentence in record["assumptions"])


def test_an_answers_caution_is_printed_with_it(capsys):
    """Some copies below the model's answer level: the CLI names the caution beside the answer, as Diagnose does."""
    sentence = "COVID-19 falls under the 78.3% this model needs to answer on its own on 2 of the 7 copies."
    record = {"image": "film.png", "model": "m", "status": "answer", "reasons": [], "assumptions": [],
              "cautions": [sentence], "prediction": "COVID-19", "probabilities": {"COVID-19": 0.81, "Normal": 0.19}}
    predict.print_record(record, as_json=False)
    assert f"\n  - read with care: {sentence}" in capsys.readouterr().out
    predict.print_record({**record, "cautions": []}, as_json=False)
    assert "read with care" not in capsys.readouterr().out


def test_stated_age_and_view_put_a_plain_film_out_of_scope(registry_env, scans, capsys):
    assert predict.main([str(scans[0]), "--json", "--age", "8"]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["status"] == "out_of_scope" and "8 years" in record["reasons"][0]
    assert predict.main([str(scans[0]), "--json", "--view", "lateral", "--age", "40"]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["status"] == "out_of_scope" and "lateral" in record["reasons"][0] and record["assumptions"] == []
    # A mistaken option is one line naming the option, never argparse's usage dump or an internal name.
    for bad in ("200", "-5", "17.5", "abc"):
        with pytest.raises(SystemExit) as stop:
            predict.main([str(scans[0]), "--age", bad])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and err[0].count("--age") == 1, err
        assert "age_years" not in err[0]


def test_overlay_keeps_aspect_ratio_and_heatmap_is_at_model_resolution(registry_env, scans, tmp_path, capsys):
    overlay, heatmap = tmp_path / "overlay.png", tmp_path / "map.npy"
    code = predict.main([str(scans[0]), "--model", "tiny-b", "--method", "gradcam++", "--target", "Normal",
                         "--overlay", str(overlay), "--heatmap", str(heatmap), "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == "tiny-b" and record["explained_class"] == "Normal"
    assert cv2.imread(str(overlay)).shape == (90, 120, 3)
    raw = np.load(heatmap)
    assert raw.shape == (32, 32) and raw.dtype == np.float32 and 0 <= raw.min() <= raw.max() <= 1
    # The map is written under the name given, and the record names that file (np.save would add ".npy").
    named = tmp_path / "map.txt"
    assert predict.main([str(scans[0]), "--model", "tiny-b", "--heatmap", str(named), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["heatmap"] == str(named) and np.load(named).shape == (32, 32) and not Path(f"{named}.npy").exists()
    # Text output says which map was made and where it went.
    assert predict.main([str(scans[0]), "--model", "tiny-b", "--overlay", str(overlay)]) == 0
    text = capsys.readouterr().out
    assert "map: Grad-CAM of" in text and f"overlay written to {overlay}" in text


def test_several_images_get_one_output_file_each(registry_env, scans, tmp_path, capsys):
    assert predict.main([str(scans[0]), str(scans[1]), "--overlay", str(tmp_path / "o.png")]) == 0
    assert (tmp_path / "o-chest.png").is_file() and (tmp_path / "o-second.png").is_file()
    out, err = capsys.readouterr()
    assert err.strip() == DISCLAIMER and "not a diagnosis" not in out  # the notice on stderr, results on stdout


def test_unknown_model_or_class_is_one_error_line(registry_env, scans, tmp_path, capsys):
    assert predict.main([str(scans[0]), "--model", "nope"]) == 2
    assert predict.main([str(scans[0]), "--target", "Fracture"]) == 2
    assert predict.main([str(scans[0]), "--overlay", str(tmp_path / "no" / "such" / "o.png")]) == 2
    assert predict.main([str(scans[0]), "--overlay", str(tmp_path)]) == 2  # a folder, not a file
    assert predict.main([str(scans[0]), "--overlay", str(tmp_path / "o.jpg")]) == 2  # the overlay is a PNG
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("error:") for line in lines)
    assert "folder of --overlay" in lines[2] and "does not exist" in lines[2]
    assert "names a folder" in lines[3] and "ending in .png" in lines[4]


def test_a_lung_model_is_refused_as_a_classifier_in_one_sentence(registry_env, scans, capsys):
    from model.registry import LUNG_SEGMENTATION, read_card, write_card

    lungs = read_card("tiny-a", registry_env)
    lungs.id, lungs.kind, lungs.default = "tiny-lungs", LUNG_SEGMENTATION, False
    (registry_env / "tiny-lungs").mkdir()
    write_card(lungs, registry_env)
    try:
        assert predict.main([str(scans[0]), "--model", "tiny-lungs"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "tiny-lungs is a lung-segmentation model, not a classifier" in err[0]
        assert "tiny-a" in err[0]  # the classifiers to choose from
        from training import evaluate  # and every other command that loads a classifier, in the same sentence
        assert evaluate.main(["--model", "tiny-lungs", "--data", str(scans[0].parent)]) == 2
        assert "tiny-lungs is a lung-segmentation model, not a classifier" in capsys.readouterr().err
    finally:
        import shutil
        shutil.rmtree(registry_env / "tiny-lungs")


def test_hostile_files_exit_2_without_traceback_and_good_files_still_run(registry_env, scans, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("patient notes, not an image")
    missing = tmp_path / "missing.dcm"
    env = {**os.environ, "CXR_REGISTRY": str(registry_env)}
    args = [str(scans[2]), str(empty), str(text), str(missing), str(tmp_path), str(scans[0]), "--json"]
    result = subprocess.run([sys.executable, "-m", "model.predict", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = result.stderr.splitlines()
    assert errors[-1] == DISCLAIMER
    errors = errors[:-1]
    assert len(errors) == 5 and all(line.startswith("error:") and "upload" not in line for line in errors), errors
    # With --json every image has its line, in order: the refused ones as "error" with the same sentence.
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(o["image"]).name for o in outputs] == [Path(a).name for a in args[:-1]]
    assert [o["status"] for o in outputs[:5]] == ["error"] * 5 and outputs[-1]["status"] != "error"
    assert [o["error"] for o in outputs[:5]] == [line.split(": ", 2)[2] for line in errors]


def test_every_image_gets_a_status_and_out_of_scope_inputs_are_held_back(registry_env, scans, tmp_path, capsys):
    from PIL import Image
    from pydicom.data import get_testdata_file

    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    colours = np.zeros((96, 96, 3), np.uint8)
    colours[:, :48] = (220, 40, 30)
    colours[:, 48:] = (30, 160, 60)
    Image.fromarray(np.clip(colours + rng.integers(0, 20, colours.shape), 0, 255).astype(np.uint8)).save(photo)
    ct = Path(get_testdata_file("CT_small.dcm"))
    assert predict.main([str(scans[0]), str(photo), str(ct), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["status"] in ("answer", "uncertain", "out_of_scope") for r in records] == [True] * 3
    assert all(isinstance(r["reasons"], list) and "prediction" in r and "probabilities" in r for r in records)
    by_name = {Path(r["image"]).name: r for r in records}
    assert by_name["photo.png"]["status"] == "out_of_scope" and "colour" in by_name["photo.png"]["reasons"][0]
    assert by_name["CT_small.dcm"]["status"] == "out_of_scope"
    assert any("modality CT" in reason for reason in by_name["CT_small.dcm"]["reasons"])
    # Held back, as on Diagnose: no answer for an out-of-scope film unless asked for, then marked as such.
    for held in (by_name["photo.png"], by_name["CT_small.dcm"]):
        assert held["prediction"] is None and held["probabilities"] is None and held["reference_only"] is False
    assert "reference_only" not in by_name["chest.png"]
    assert predict.main([str(photo), "--json", "--show-anyway"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reference_only"] is True and set(shown["probabilities"]) == {"COVID-19", "Normal", "Pneumonia"}
    assert predict.main([str(photo)]) == 0
    text = capsys.readouterr().out
    assert "out of scope, no answer" in text and "--show-anyway prints the model's output" in text and "%" not in text
    assert predict.main([str(photo), "--show-anyway"]) == 0
    assert "(the model's output, for reference only:" in capsys.readouterr().out
    # Asked for a map of a film held back: none is written, and the output says why.
    overlay = tmp_path / "held.png"
    assert predict.main([str(photo), "--json", "--overlay", str(overlay)]) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["map"].startswith("not written: the film is out of scope") and not overlay.exists()


def test_refused_files_are_reported_without_importing_tensorflow(registry_env, tmp_path):
    """Files are read and checked first: a run whose every file is refused never loads a model (so it
    ends in about a second, `benchmarks/cli_refusal.py`) and prints no decision-support notice."""
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("patient notes, not an image")
    probe = ("import sys; from model import predict; code = predict.main(sys.argv[1:]); "
             "print('tensorflow imported' if 'tensorflow' in sys.modules else 'no tensorflow'); sys.exit(code)")
    env = {**os.environ, "CXR_REGISTRY": str(registry_env)}
    result = subprocess.run([sys.executable, "-c", probe, str(empty), str(text), str(tmp_path / "missing.png")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout.strip() == "no tensorflow"
    errors = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in errors] == ["error"] * 3 and "not a diagnosis" not in result.stderr
    assert "This file is empty" in errors[0] and "text, not an image" in errors[1] and "No file was found" in errors[2]


def test_an_unknown_model_is_reported_before_any_file_is_read(registry_env, tmp_path):
    result = subprocess.run([sys.executable, "-m", "model.predict", str(tmp_path / "missing.png"), "--model", "nope"],
                            cwd=ROOT, env={**os.environ, "CXR_REGISTRY": str(registry_env)}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: Model 'nope' is not in the registry (no card.json)."]
