"""Numbers: strokes grouped into digits, pictures read into digits, and the generated test sets."""

import io
import json
from collections import deque

import numpy as np
import pytest
from PIL import Image

from digitnet import load_model
from digitnet.numbers import (
    MAX_STROKES,
    MEASURE_STEPS,
    TOO_MANY_DIGITS,
    InkDistances,
    recognise_number,
    sure_groups,
)
from digitnet.picture import PictureError, components, prepare_picture, read_number
from digitnet.recognise import recognise_strokes
from digitnet.training import number_sets
from digitnet.training.cli import main
from digitnet.training.tracing import trace_digit

from .conftest import ROOT


@pytest.fixture(scope="module")
def cnn():
    return load_model(ROOT / "weights" / "cnn.json")


# ---------------------------------------------------------------- strokes


def test_one_digit_reads_exactly_as_a_single_digit(cnn, mnist_data):
    """Test digits 8, 43, 51, 59 and 75 are traced in pieces lower than the digit, too wide together for the digits'
    height the pieces suggest: the whole drawing is a candidate of its own (they read as 65, 12, 73,
    72 and 76 before)."""
    for index in [0, 1, 2, 3, 4, 8, 43, 51, 59, 75]:
        strokes = [s * 10 + 30 for s in trace_digit(mnist_data.test.images[index])]
        number = recognise_number(cnn, strokes, 400.0)
        single = recognise_strokes(cnn, strokes, 400.0)
        assert len(number.digits) == 1
        assert np.array_equal(number.digits[0].recognition.probabilities, single.probabilities)
        assert number.number == str(single.digit)


def test_multi_stroke_digits_stay_together():
    four = [np.array([[30.0, 10], [10, 60], [50, 60]]), np.array([[40.0, 20], [40, 100]])]
    seven = [np.array([[100.0, 10], [140, 10], [115, 100]]), np.array([[110.0, 55], [135, 55]])]
    five = [np.array([[175.0, 10], [170, 50], [200, 55], [195, 95], [170, 95]]), np.array([[176.0, 10], [205, 10]])]
    strokes = [*four, *seven, *five]
    assert sure_groups(strokes) == [[0, 1], [2, 3], [4, 5]]


def test_ink_distances():
    cross = [np.array([[0.0, 0], [100, 100]]), np.array([[0.0, 100], [100, 0]])]
    assert InkDistances(cross).between([0], [1]) < 100 / MEASURE_STEPS  # crossing, no end near the other
    assert InkDistances(cross).bridge([[0], [1]]) < 100 / MEASURE_STEPS
    row = [np.array([[0.0, 0], [0, 100]]), np.array([[10.0, 0], [10, 100]]), np.array([[40.0, 50], [40, 60]])]
    ink = InkDistances(row)
    assert ink.between([0], [1]) == pytest.approx(10) and ink.between([1], [2]) == pytest.approx(30)
    assert ink.bridge([[0], [1], [2]]) == pytest.approx(30)  # the widest gap of the chain 0–1–2
    assert ink.bridge([[0, 1]]) == 0
    assert ink.touch([0], [1], 10.5) and not ink.touch([0], [1], 9.5) and not ink.touch([0, 1], [2], 29)


def test_a_digit_written_over_its_neighbours_columns_is_its_own(cnn):
    """A 1 written within the columns of a 2 without touching it: two digits, not a sure group."""
    two = np.array([[10.0, 25], [25, 8], [45, 8], [52, 25], [40, 55], [12, 95], [75, 95]])
    one = np.array([[68.0, 10], [68, 78]])
    assert sure_groups([two, one]) == [[0], [1]]
    reading = recognise_number(cnn, [two, one], 400.0)
    assert reading.number == "21"
    assert reading.digits[1].box == (68.0, 10.0, 0.0, 68.0)


def test_drawn_numbers_read_right(cnn, mnist_data):
    numbers = number_sets.drawn_numbers(mnist_data.test, 8, range(3, 6))
    readings = number_sets.evaluate_drawn({"cnn": cnn}, numbers)["cnn"]
    figures = number_sets.score(readings, [n.label for n in numbers])
    assert figures["numbers"] == 24
    assert figures["number_accuracy"] >= 75 and figures["digit_accuracy"] >= 95
    for reading in readings:
        xs = [d.box[0] for d in reading.digits]
        assert xs == sorted(xs)  # left to right
        assert all(0 <= d.recognition.confidence <= 1 for d in reading.digits)


def test_nothing_drawn_and_stray_marks(cnn):
    assert recognise_number(cnn, [], 400.0).reason == "the drawing is empty"
    dot = recognise_number(cnn, [np.array([[5.0, 5.0], [6.0, 6.0]])], 400.0)
    assert dot.number == "" and "too small" in dot.reason
    with pytest.raises(ValueError, match="NaN"):
        recognise_number(cnn, [np.array([[np.nan, 1.0], [2.0, 3.0]])], 400.0)
    hatching = [np.array([[x, 10.0], [x, 90.0]]) for x in np.arange(MAX_STROKES + 1) * 3.0]
    assert recognise_number(cnn, hatching, 1000.0).reason == f"more than {MAX_STROKES} strokes: too many for a number"
    assert recognise_number(cnn, hatching[:MAX_STROKES], 1000.0).reason == TOO_MANY_DIGITS
    stacked = [np.array([[10.0, 10 * k], [90, 10 * k + 1]]) for k in range(MAX_STROKES)]
    assert recognise_number(cnn, stacked, 3000.0).reason == TOO_MANY_DIGITS


def test_flat_strokes_are_read_without_error(cnn):
    """A dash, an equals sign: strokes of no height (a straight drag of the mouse) still get an answer."""
    dash = [np.array([[10.0, 50.0], [90.0, 50.0]])]
    equals = [*dash, np.array([[10.0, 70.0], [90.0, 70.0]])]
    for strokes in (dash, equals):
        reading = recognise_number(cnn, strokes, 400.0)
        assert reading.digits and all(0 <= d.recognition.confidence <= 1 for d in reading.digits)


# ---------------------------------------------------------------- pictures


def labels_by_flood_fill(mask: np.ndarray) -> np.ndarray:
    """A slow, obviously right 8-connected labelling, to check ``components`` against."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if labels[start]:
            continue
        count += 1
        labels[start] = count
        queue = deque([start])
        while queue:
            r, c = queue.popleft()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    n = (r + dr, c + dc)
                    if 0 <= n[0] < mask.shape[0] and 0 <= n[1] < mask.shape[1] and mask[n] and not labels[n]:
                        labels[n] = count
                        queue.append(n)
    return labels


@pytest.mark.parametrize("density", [0.1, 0.35, 0.6])
def test_components_match_a_flood_fill(density):
    rng = np.random.default_rng(int(density * 100))
    for _ in range(5):
        mask = rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) < density
        labels, boxes = components(mask)
        expected = labels_by_flood_fill(mask)
        assert labels.max() == expected.max() == len(boxes)
        # the same partition: a one-to-one map between the two labellings
        pairs = {(int(a), int(b)) for a, b in zip(labels[mask], expected[mask], strict=True)}
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
        for k, (top, left, bottom, right, count) in enumerate(boxes, start=1):
            rows, cols = np.nonzero(labels == k)
            assert (top, left, bottom, right, count) == (
                rows.min(),
                cols.min(),
                rows.max() + 1,
                cols.max() + 1,
                len(rows),
            )


def photo_of(ink: np.ndarray, paper: float = 1.0, dark_on_light: bool = True) -> np.ndarray:
    """``ink (H, W)`` as reflected light on paper of brightness ``paper``."""
    return paper * (1 - 0.9 * ink) if dark_on_light else 0.1 + 0.85 * ink


def encoded(pixels: np.ndarray, fmt: str = "PNG", bits: int = 8, orientation: int = 1) -> bytes:
    """``pixels (H, W)`` in [0, 1] as a file; with an EXIF orientation, stored turned so that it shows upright."""
    if bits == 16:
        image = Image.fromarray((pixels * 65535).astype(np.uint16))
    else:
        image = Image.fromarray((pixels * 255).astype(np.uint8))
    exif = Image.Exif()
    if orientation != 1:
        image = image.transpose(getattr(Image.Transpose, number_sets.STORED_AS[orientation]))
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif) if fmt == "JPEG" else image.save(buffer, fmt)
    return buffer.getvalue()


def number_sheet(mnist_data, indices, rng) -> tuple[np.ndarray, str]:
    ink = number_sets.number_ink(mnist_data.test, list(indices), rng, 60)
    return np.pad(ink, 40), "".join(str(mnist_data.test.labels[i]) for i in indices)


@pytest.mark.parametrize(
    "make",
    [
        lambda ink: encoded(photo_of(ink, paper=0.8)),  # grey paper: was read as 8 at 83–99.7 %
        lambda ink: encoded(photo_of(ink), "JPEG", orientation=6),  # a phone's rotated JPEG
        lambda ink: encoded(photo_of(ink), bits=16),  # 16-bit grey: was clipped to "empty"
        lambda ink: encoded(photo_of(ink, dark_on_light=False)),  # chalk on a board
    ],
    ids=["grey paper 0.8", "EXIF orientation 6", "16-bit PNG", "light on dark"],
)
def test_pictures_that_went_wrong_now_read_right(cnn, mnist_data, make):
    rng = np.random.default_rng(3)
    right = total = 0
    for start in range(0, 12, 3):
        ink, label = number_sheet(mnist_data, range(start, start + 3), rng)
        reading = read_number(cnn, make(ink))
        total += len(label)
        right += sum(a == b for a, b in zip(reading.number, label, strict=False)) if len(reading.number) == 3 else 0
    assert right >= total - 1, f"{right} of {total} digits"


def test_boxes_are_in_the_upright_pictures_pixels(mnist_data):
    ink, _ = number_sheet(mnist_data, [0, 1], np.random.default_rng(1))
    prepared = prepare_picture(encoded(photo_of(ink), "JPEG", orientation=8))
    assert prepared.size == (ink.shape[1], ink.shape[0])
    assert len(prepared.boxes) == 2
    for x, y, w, h in prepared.boxes:
        assert 30 <= y <= 60 and 50 <= h <= 100 and 0 < x and x + w < ink.shape[1]


def test_large_photo_is_reduced_and_still_read(cnn, mnist_data):
    ink, label = number_sheet(mnist_data, [7, 8, 9, 10], np.random.default_rng(2))
    big = np.kron(photo_of(ink, paper=0.7), np.ones((8, 8)))  # ~ 3000 px wide
    reading = read_number(cnn, encoded(big, "JPEG"))
    assert reading.number == label
    assert reading.digits[0].box[2] > 100  # boxes in the original picture's pixels


def test_blank_and_broken_pictures(cnn, mnist_data):
    rng = np.random.default_rng(5)
    for photo in number_sets.blank_sheets(mnist_data.test, 6):
        reading = read_number(cnn, photo.data)
        assert all(d.recognition.confidence <= 0.9 for d in reading.digits), photo.kind
    assert read_number(cnn, encoded(np.full((50, 80), 0.9))).reason == "no ink found in the picture"
    with pytest.raises(PictureError, match="not an image file"):
        read_number(cnn, b"%PDF-1.4 not a picture")
    with pytest.raises(PictureError, match="unreadable image"):
        read_number(cnn, encoded(rng.random((40, 40)))[:60])


def test_the_edge_of_a_shadow_is_no_digit(cnn, mnist_data):
    """Sheets with a soft shadow, from other seeds than the results table's: the paper estimate once
    carried the lit side's level across the shadow's edge, and specks on the band of "ink" it left
    were read as digits at up to 1.0. Now no sheet shows a digit."""
    sheets = number_sets.blank_sheets(mnist_data.validation, 60, number_sets.VALIDATION_SEED)
    sheets += number_sets.blank_sheets(mnist_data.validation, 60, 3)
    for photo in sheets:
        reading = read_number(cnn, photo.data)
        assert not reading.digits, (photo.kind, reading.number, [d.box for d in reading.digits])


def test_palette_and_transparent_pictures(cnn, mnist_data):
    ink, label = number_sheet(mnist_data, [3, 4], np.random.default_rng(4))
    palette = Image.fromarray((photo_of(ink) * 255).astype(np.uint8)).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, "GIF")
    assert read_number(cnn, buffer.getvalue()).number == label
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = (ink * 255).astype(np.uint8)  # black ink on a clear sheet
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    assert read_number(cnn, buffer.getvalue()).number == label


# ---------------------------------------------------------------- the command line


def test_predict_json_and_plain_output(mnist_data, tmp_path, capsys):
    ink, label = number_sheet(mnist_data, [11, 12, 13, 14], np.random.default_rng(6))
    (tmp_path / "number.jpg").write_bytes(encoded(photo_of(ink, paper=0.75), "JPEG", orientation=6))
    (tmp_path / "blank.png").write_bytes(encoded(np.full((60, 60), 0.8)))
    (tmp_path / "notes.txt").write_text("hello")
    files = [str(tmp_path / n) for n in ("number.jpg", "blank.png", "notes.txt")]
    assert main(["predict", "--json", *files]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == files
    assert lines[0]["number"] == label and "reason" not in lines[0]
    assert [d["digit"] for d in lines[0]["digits"]] == [int(c) for c in label]
    assert all(set(d) == {"digit", "confidence", "box"} and len(d["box"]) == 4 for d in lines[0]["digits"])
    assert lines[1] == {"file": files[1], "number": "", "digits": [], "reason": "no ink found in the picture"}
    assert lines[2]["number"] == "" and "not an image file" in lines[2]["reason"]
    assert main(["predict", files[0]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{files[0]}: {label}  (4 digits; confidence ")


def test_segment_distance_is_the_vector_formula():
    """The x/y form of the point-to-segment distance gives the very values of the (n, s, 2) form."""
    from digitnet.strokes import segment_distance

    rng = np.random.default_rng(9)
    for _ in range(20):
        points, starts = rng.normal(0, 10, (50, 2)), rng.normal(0, 10, (7, 2))
        ends = starts + rng.normal(0, 5, (7, 2)) * (rng.random((7, 1)) < 0.8)  # some segments are points
        direction = ends - starts
        t = np.clip(
            np.sum((points[:, None] - starts) * direction, axis=2) / np.maximum(np.sum(direction**2, axis=1), 1e-12),
            0,
            1,
        )
        nearest = starts + t[..., None] * direction
        expected = np.sqrt(np.min(np.sum((points[:, None] - nearest) ** 2, axis=2), axis=1))
        assert np.array_equal(segment_distance(points, starts, ends), expected)


def test_mnist_files_whose_digit_touches_the_edge(cnn, mnist_data):
    """28×28 MNIST test digits that reach the picture's side: a tight crop, not a frame (these six
    were "no digit found" when any ink on a side wider than 60 % of it framed the sheet)."""
    for index in (141, 262, 483, 646, 822, 1110):
        image = Image.fromarray((mnist_data.test.images[index].reshape(28, 28) * 255).astype(np.uint8))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        assert read_number(cnn, buffer.getvalue()).number == str(mnist_data.test.labels[index]), index


def test_a_sheet_photographed_on_a_dark_table(cnn, mnist_data):
    """The table around the sheet and the sheet's edges are not digits."""
    ink, label = number_sheet(mnist_data, [41, 42, 43], np.random.default_rng(11))
    photo = np.full((ink.shape[0] + 120, ink.shape[1] + 160), 0.15)  # a dark table
    photo[60:-60, 80:-80] = photo_of(ink, paper=0.85)
    assert read_number(cnn, encoded(photo, "JPEG")).number == label


def test_validation_numbers_are_printed_not_written(tmp_path, capsys):
    assert main(["numbers", "--validation", "--write", str(tmp_path / "numbers.md")]) == 2
    assert capsys.readouterr().err.startswith("digitnet: error: --validation prints its table")
    assert not (tmp_path / "numbers.md").exists()


def test_the_committed_numbers_table_is_what_its_figures_and_set_sizes_give():
    """``weights/numbers.md`` is regenerated with its JSON: a change of the set sizes (or of the
    table) without running ``digitnet numbers --write`` again fails here."""
    weights = ROOT / "weights"
    figures = json.loads((weights / "numbers.results.json").read_text(encoding="utf-8"))
    assert (weights / "numbers.md").read_text(encoding="utf-8") == number_sets.results_markdown(figures)
    drawn4 = figures["cnn"]["drawn4"]
    assert drawn4["numbers"] == number_sets.SIZES["drawn4"]
