"""Tracing raster digits into pen strokes: lines stay lines, loops stay loops, filled loops open up."""

import numpy as np

from digitnet.training import tracing
from digitnet.training.robustness import drawn_copies
from digitnet.training.tracing import depth_map, trace_digit

ROWS, COLS = np.mgrid[0:28, 0:28] + 0.5


def image_of(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.float32).reshape(784)


def winds_round(strokes: list[np.ndarray], centre: tuple[float, float], radius: float) -> bool:
    """Whether one stroke goes all the way round ``centre`` (x, y), at least ``radius`` from it."""
    for stroke in strokes:
        offsets = stroke - centre
        far = offsets[np.hypot(*offsets.T) >= radius]
        angles = np.unwrap(np.arctan2(far[:, 1], far[:, 0]))
        if len(far) and angles.max() - angles.min() > 1.8 * np.pi:
            return True
    return False


def test_a_bar_traces_to_one_open_line() -> None:
    bar = (np.abs(COLS - 14) < 1.6) & (ROWS > 4) & (ROWS < 24)
    strokes = trace_digit(image_of(bar))
    assert len(strokes) == 1
    ys = strokes[0][:, 1]
    assert ys.max() - ys.min() > 15  # the whole height, end to end
    assert not winds_round(strokes, (14.0, 14.0), 0.5)


def test_a_drawn_ring_stays_a_loop() -> None:
    distance = np.hypot(COLS - 14, ROWS - 14)
    ring = np.abs(distance - 7) < 1.6
    assert winds_round(trace_digit(image_of(ring)), (14.0, 14.0), 4.0)


def test_a_filled_loop_is_traced_round_not_thinned_to_a_line() -> None:
    """A 9 written with a broad pen: the ink filled the loop's hole. Thinned alone, the head shrinks
    to a short line and the digit reads as a 7; traced as it was written, the head is a loop."""
    head = np.hypot(COLS - 14, ROWS - 9) < 6.5
    stem = (np.abs(COLS - 19) < 1.6) & (ROWS > 9) & (ROWS < 26)
    nine = image_of(head | stem)
    strokes = trace_digit(nine)
    assert winds_round(strokes, (14.0, 9.0), 2.5)
    # the stem is still there, down to its foot
    assert max(stroke[:, 1].max() for stroke in strokes) > 23


def test_a_thick_stroke_beside_a_thin_mark_stays_a_line() -> None:
    """The thin mark makes the pen's half-width look small, and the thick stroke deep: still a
    stroke, too long and narrow to be a filled loop."""
    bar = (np.abs(COLS - 12) < 2.4) & (ROWS > 3) & (ROWS < 25)
    mark = (np.abs(COLS - 18) < 0.6) & (ROWS > 14) & (ROWS < 22)
    strokes = trace_digit(image_of(bar | mark))
    assert not winds_round(strokes, (12.0, 14.0), 0.5)
    assert not winds_round(strokes, (12.0, 8.0), 0.5)


def test_diagonal_strokes_that_cross_are_not_given_a_loop() -> None:
    cross = ((np.abs(ROWS - COLS) < 2.2) | (np.abs(ROWS + COLS - 28) < 2.2)) & (ROWS > 4) & (ROWS < 24)
    assert not winds_round(trace_digit(image_of(cross)), (14.0, 14.0), 0.5)


def test_depth_counts_steps_to_the_background() -> None:
    mask = np.zeros((7, 7), dtype=bool)
    mask[1:6, 1:6] = True
    depth = depth_map(mask)
    assert depth[0, 0] == 0 and depth[1, 1] == 1 and depth[2, 2] == 2 and depth[3, 3] == 3
    assert depth.max() == 3


def test_cached_tracings_are_kept_per_tracing_version_and_older_ones_dropped(tmp_path) -> None:
    images = np.zeros((2, 784), dtype=np.float32)
    images[:, 300:310] = 1.0
    first = drawn_copies(images, cache=tmp_path)
    (path,) = tmp_path.iterdir()
    earlier = path.with_name(path.name.replace(f"-t{tracing.VERSION}", "-t1"))
    path.rename(earlier)  # as if an earlier tracing had made it
    copies = drawn_copies(images, cache=tmp_path)
    np.testing.assert_array_equal(copies, first)
    (path,) = tmp_path.iterdir()
    assert path.name.endswith(f"-t{tracing.VERSION}.npy")
    np.testing.assert_array_equal(np.load(path), copies)
