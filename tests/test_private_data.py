"""Private data: identifying DICOM attributes never reach any output, and uploads never reach the disk.

One DICOM carries the identifying attributes of the DICOM basic de-identification profile (PS3.15 Annex E),
each with a unique marker, and is uploaded under a file name with markers of its own (a file's name can carry the
patient's name). It then goes through every output: every element of a full dashboard session
(Diagnose with all its sections, the PNG/PDF reports as downloaded, Compare), Python logging and warnings,
and the CLI's stdout, stderr and output files. None of the markers may appear anywhere.
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.support import dicom_dataset, synthetic_radiograph

st = pytest.importorskip("streamlit")
from streamlit.runtime.media_file_manager import MediaFileManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"

# Identifying attributes with unique markers: names, IDs, addresses and free text carry "Qz" words that
# occur nowhere else; dates, times and UIDs carry digit strings of their own.
PRIVATE = {
    "PatientName": "Qzpatient^Qzgiven^Qzmiddle",
    "PatientID": "QZPID-880011",
    "IssuerOfPatientID": "QZISSUER-5521",
    "OtherPatientIDs": "QZOTHERID-7731",
    "OtherPatientNames": "Qzothername^Qzalias",
    "PatientBirthName": "Qzbirthname^Qzbirthgiven",
    "PatientMotherBirthName": "Qzmothername^Qzmothergiven",
    "PatientBirthDate": "19230417",
    "PatientBirthTime": "071523",
    "PatientAddress": "17 Qzstreet Road, Qztown",
    "PatientTelephoneNumbers": "+44 7700 918273",
    "MedicalRecordLocator": "QZMRL-440092",
    "EthnicGroup": "QZETHNIC",
    "Occupation": "Qzoccupation",
    "AdditionalPatientHistory": "Qzhistory of smoking",
    "PatientComments": "Qzcomment about the patient",
    "AccessionNumber": "QZACC-661204",
    "StudyID": "QZSTUDY-93",
    "StudyDate": "20310911",
    "StudyTime": "235917",
    "SeriesDate": "20310912",
    "AcquisitionDate": "20310913",
    "ContentDate": "20310914",
    "StudyDescription": "Qzstudydescription",
    "SeriesDescription": "Qzseriesdescription",
    "ProtocolName": "Qzprotocol",
    "ImageComments": "Qzimagecomment",
    "InstitutionName": "Qzinstitution Hospital",
    "InstitutionAddress": "1 Qzhospital Way, Qzcity",
    "InstitutionalDepartmentName": "Qzdepartment",
    "ReferringPhysicianName": "Qzreferring^Qzdoctor",
    "ReferringPhysicianAddress": "3 Qzclinic Lane",
    "ReferringPhysicianTelephoneNumbers": "+44 7700 900461",
    "PhysiciansOfRecord": "Qzrecordphys^Qzrecordgiven",
    "PerformingPhysicianName": "Qzperforming^Qzperforminggiven",
    "NameOfPhysiciansReadingStudy": "Qzreader^Qzreadergiven",
    "OperatorsName": "Qzoperator^Qzoperatorgiven",
    "RequestingPhysician": "Qzrequesting^Qzrequestinggiven",
    "StationName": "QZSTATION-7",
    "DeviceSerialNumber": "QZSERIAL-55012",
    "StudyInstanceUID": "1.2.826.0.1.3680043.10.98765.101",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.10.98765.202",
    "SOPInstanceUID": "1.2.826.0.1.3680043.10.98765.303",
    "FrameOfReferenceUID": "1.2.826.0.1.3680043.10.98765.404",
}
# What must never appear: every Qz word, and the dates, UIDs, phone numbers and IDs whole. Short digit runs
# (the 6-digit times) are set in the file but not searched for: they occur by chance in numbers on a page.
FILE_MARKERS = sorted({part for value in PRIVATE.values() for part in value.replace("^", " ").replace(",", " ").split()
                       if part.startswith(("Qz", "QZ"))}
                      | {PRIVATE[k] for k in PRIVATE if k.endswith(("UID", "Date", "TelephoneNumbers"))}
                      | {"QZREQPROC-31"})
# An uploaded file's name can carry the patient's name: the session below uploads the DICOM under this one.
NAME_MARKERS = ["Qzfilename", "Qzsurname"]
UPLOAD_NAME = f"{NAME_MARKERS[0]} {NAME_MARKERS[1]} chest.dcm"
# The same dates as a program might print them, and the upload's name.
MARKERS = FILE_MARKERS + NAME_MARKERS + sorted(
    {f"{d[:4]}-{d[4:6]}-{d[6:]}" for k, d in PRIVATE.items() if k.endswith("Date")}
    | {f"{d[6:]}/{d[4:6]}/{d[:4]}" for k, d in PRIVATE.items() if k.endswith("Date")})


def private_dicom() -> bytes:
    """A 128 x 128 chest-like DX image with every identifying attribute above set."""
    stored = np.round(synthetic_radiograph(128, seed=21, lesion=(0.45, 0.3)) * 4095).astype(np.uint16)
    ds = dicom_dataset(stored)
    for keyword, value in PRIVATE.items():
        setattr(ds, keyword, value)
    ds.file_meta.MediaStorageSOPInstanceUID = PRIVATE["SOPInstanceUID"]
    request = Dataset()
    request.RequestedProcedureID = "QZREQPROC-31"
    request.ScheduledProcedureStepID = "QZREQPROC-31"
    ds.RequestAttributesSequence = Sequence([request])
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    assert all(marker.encode() in data for marker in FILE_MARKERS), "a marker is missing from the test file itself"
    return data


def leaked(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [marker for marker in MARKERS if marker.encode() in text or marker.encode("utf-16-be") in text]
    return [marker for marker in MARKERS if marker in text]


# --------------------------------------------------------------------------- a full dashboard session


def walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def element_texts(at: AppTest) -> list[str]:
    """Everything the session shows: each element's protobuf (text, markdown, JSON, captions, chart specs,
    dataframes as Arrow bytes, decoded leniently) and the values of its dataframes."""
    found = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None:
            found.append(str(proto))
            found.append(proto.SerializeToString().decode("latin-1"))
        if getattr(node, "type", "") in ("arrow_data_frame", "dataframe", "table"):
            found.append(node.value.to_string())
    return found


@pytest.fixture()
def downloads(monkeypatch) -> list:
    """The deferred data callables of every download button the session draws."""
    recorded = []
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, *args, **kwargs):
        recorded.append(data_callable)
        return original(self, data_callable, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return recorded


@pytest.fixture()
def report_text(monkeypatch) -> list[str]:
    """Every string the report pages are drawn from (the page is an image, so its text is checked here)."""
    import model.present.report as report

    strings = []
    original = report.render_pages

    def render(pixels, overlay, prediction, content):
        strings.append(str(prediction))
        strings.extend(str(getattr(content, field.name)) for field in dataclasses.fields(content))
        strings.extend(str(note) for note in content.notes)
        return original(pixels, overlay, prediction, content)

    monkeypatch.setattr(report, "render_pages", render)
    return strings


def full_session(data: bytes, name: str = UPLOAD_NAME) -> tuple[AppTest, list[str]]:
    """Diagnose with every section (method change, what-if, faithfulness, occlusion) and Compare; returns
    the app and the text of every element seen along the way."""
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    seen = element_texts(at)

    def step(action):
        nonlocal at
        at = action(at)
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        seen.extend(element_texts(at))

    step(lambda a: (a.file_uploader[0].set_value((name, data, "application/dicom")), a.run())[1])
    assert len(at.main.image) == 1, "the DICOM was not analysed"  # the overlay; the film is the click grid
    step(lambda a: a.selectbox(key="method").set_value("gradcam++").run())

    def hide(a):  # what a click on the film's grid stores
        a.session_state["hidden_cells"] = [14, 15]
        return a.run()
    step(hide)
    step(lambda a: a.toggle(key="faithfulness").set_value(True).run())
    step(lambda a: a.button(key="occlusion").click().run())
    step(lambda a: a.switch_page("views/compare_page.py").run())
    step(lambda a: (a.file_uploader[0].set_value((name, data, "application/dicom")), a.run())[1])
    assert [m.label for m in at.metric].count("Model output") == 2, "Compare did not classify the DICOM"
    return at, seen


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record) -> None:
        self.lines.append(self.format(record))


@pytest.fixture()
def all_logs():
    """Every log record of every logger at DEBUG, including Streamlit's own (which do not propagate)."""
    handler = Records()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_text)s"))
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger) and not logger.propagate]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler.lines
    for logger, level in zip(loggers, levels):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_no_identifier_in_any_dashboard_output_report_or_log(registry_env, downloads, report_text, all_logs):
    data = private_dicom()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        at, seen = full_session(data)
        reports = [make() for make in downloads]
    assert len(reports) >= 2, "the report download buttons were not drawn"
    assert {report[:4] for report in reports} == {b"\x89PNG", b"%PDF"}
    assert report_text, "the report was not drawn"
    for report in reports:
        assert not leaked(report)
        if report.startswith(b"\x89PNG"):
            image = Image.open(io.BytesIO(report))
            assert not leaked(json.dumps({k: str(v) for k, v in {**image.info, **getattr(image, "text", {})}.items()}))
    assert not leaked("\n".join(report_text))
    page = "\n".join(seen)
    # The collected text does include what the pages show: captions, the what-if table, the model's name.
    assert "Original (DICOM, 128 x 128 px)" in page and "With 2 cells hidden" in page
    assert "Tiny test model tiny-b" in page and "While hiding" in page
    assert not leaked(page)
    assert not leaked("\n".join(all_logs))
    assert not leaked("\n".join(f"{w.category.__name__}: {w.message}" for w in caught))


def test_the_leak_checks_can_see_a_marker(registry_env, all_logs):
    # Guard against a check that cannot fail: a marker put into a page, a log or bytes is found.
    logging.getLogger("streamlit.test").warning("Qzpatient")
    assert leaked("\n".join(all_logs)) == ["Qzpatient"]
    assert leaked(private_dicom()) == FILE_MARKERS
    assert leaked("born 1923-04-17") == ["1923-04-17"]


# --------------------------------------------------------------------------- the CLI


def test_no_identifier_in_cli_output_or_files(registry_env, tmp_path):
    scan = tmp_path / "scan.dcm"
    scan.write_bytes(private_dicom())
    frames = tmp_path / "frames.dcm"  # the same identifiers in a file that is refused
    ds = dicom_dataset(np.zeros((2, 64, 96), np.uint16), NumberOfFrames=2)
    for keyword, value in PRIVATE.items():
        setattr(ds, keyword, value)
    ds.save_as(frames, enforce_file_format=True)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "CXR_REGISTRY": str(registry_env)}
    runs = [[str(scan), str(frames), "--json", "--overlay", str(out / "overlay.png"), "--heatmap", str(out / "map.npy")],
            [str(scan), "--method", "gradcam++", "--overlay", str(out / "plain.png")]]
    results = [subprocess.run([sys.executable, "-m", "model.predict", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300) for args in runs]
    assert [result.returncode for result in results] == [2, 0]
    assert results[0].stderr.startswith(f"error: {frames}: This DICOM file contains 2 frames")
    for result in results:
        assert "scan.dcm" in result.stdout, result.stderr
        assert not leaked(result.stdout) and not leaked(result.stderr)
    written = sorted(out.iterdir())
    assert [path.name for path in written] == ["map-scan.npy", "overlay-scan.png", "plain.png"]
    for path in written:
        assert not leaked(path.read_bytes())
        if path.suffix == ".png":
            with Image.open(path) as image:
                assert not leaked(json.dumps({k: str(v) for k, v in image.info.items()}))


# --------------------------------------------------------------------------- uploads never reach the disk


def write_opens(folders) -> tuple[list, callable]:
    """Every file this process opens for writing below the folders, recorded by an audit hook.

    Only Python-level opens are seen, but they are this process's own: other programs writing to /tmp
    at the same time cannot make this fail. Audit hooks cannot be removed, so the hook is switched off.
    """
    opened, active = [], threading.Event()
    roots = tuple(os.path.join(os.path.realpath(folder), "") for folder in folders)

    def hook(event, args):
        if not active.is_set() or event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path, mode, flags = (list(args) + [None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writing:
            real = os.path.realpath(os.fsdecode(path))
            if real.startswith(roots):
                opened.append(real)

    sys.addaudithook(hook)
    return opened, active


def test_uploads_are_never_written_to_disk(registry_env, tmp_path_factory, downloads):
    # Proven by what this process opens for writing (an audit hook sees every open, anywhere on the
    # file system), not by files appearing in the temp folder, which other programs may write to.
    data = private_dicom()
    ignored = os.path.realpath(tmp_path_factory.getbasetemp())  # pytest's own folders, made by the tests
    opened, active = write_opens([os.sep])
    active.set()
    try:
        at, _ = full_session(data)
        reports = [make() for make in downloads]  # the downloads are made in memory too
    finally:
        active.clear()
    assert reports and len(at.main.image) >= 2
    ours = [path for path in opened if not path.startswith(ignored)]
    assert ours == [], f"the dashboard session opened files for writing: {ours}"


def test_the_write_recorder_sees_a_write(tmp_path_factory):
    # Guard against a recorder that cannot fail: a file written in the working directory is seen.
    opened, active = write_opens([os.getcwd()])
    path = Path(os.getcwd()) / f".write-recorder-check-{os.getpid()}"
    active.set()
    try:
        path.write_bytes(b"x")
    finally:
        active.clear()
        path.unlink(missing_ok=True)
    assert opened == [os.path.realpath(path)]
