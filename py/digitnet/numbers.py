"""A number written on the pad: pen strokes grouped into digits, each digit recognised.

Strokes are grouped from their geometry: strokes that touch and whose horizontal
extents overlap well belong to one digit (a 4, a 5 or a crossed 7 drawn in several
strokes), strokes far apart are different digits (unless the whole drawing, of a
few groups, is shaped like one digit). Between the two, the split is ambiguous,
and the recogniser decides: of the candidate groupings, the one whose digits the
network is most sure of wins, a candidate digit that is wider than tall, lower
than its neighbours or made of parts that do not touch paying a penalty. A network
with a digit check (``digitnet.digitcheck``) also weighs how likely each candidate
is one whole digit, not two nor a part of one. A drawing that is one digit is
recognised by ``digitnet.recognise.recognise_strokes`` itself, so one digit reads
as on the single-digit pad.

The thresholds and weights below were chosen on numbers made of MNIST
**validation** digits (``training/number_sets.py``), never on the test digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from digitnet.digitcheck import GEOMETRY, check_features, span_geometry
from digitnet.network import Network, confidence, probabilities
from digitnet.preprocess import NoDigitError
from digitnet.recognise import Recognition, gated, recognise_strokes
from digitnet.strokes import checked_strokes, normalise_strokes

#: The longest number the page reads.
MAX_DIGITS = 12
TOO_MANY_DIGITS = f"more than {MAX_DIGITS} digits"
#: More strokes than this are no number of MAX_DIGITS digits.
MAX_STROKES = 200
#: Two groups whose x-extents overlap by more than this share of the narrower one are one digit ...
SURE_OVERLAP = 0.5
#: ... or by more than this share, whatever their heights ...
FULL_OVERLAP = 0.9
#: ... provided their ink comes within this share of the taller one's height: a digit's strokes
#: touch, where a neighbour written over its columns usually does not.
TOUCH = 0.12
#: A stroke lower than this share of its neighbour's height is a part of a digit (a bar, a flag).
SHORT_SHARE = 0.75
#: Two groups further apart than this share of the digits' height are two digits.
SURE_GAP = 0.3
#: A candidate digit wider than this many times its height is penalised (digits are upright) ...
MAX_ASPECT = 0.9
#: ... by this weight times log(aspect / MAX_ASPECT): two digits read as one are wide.
ASPECT_WEIGHT = 2.0
#: A mark whose larger side is under this share of the digits' height is no digit.
STRAY_SHARE = 0.3
#: A candidate digit lower than this share of the digits' height pays HEIGHT_WEIGHT · log(share · height / h).
LOW_SHARE = 0.7
HEIGHT_WEIGHT = 2.0
#: A candidate digit made of parts that do not touch pays LINK_WEIGHT · (gap bridged / digits' height).
LINK_WEIGHT = 1.5
#: A candidate digit is at most this many times the digits' height wide.
MAX_WIDTH = 1.5
#: The whole drawing of at most MAX_JOIN groups is a candidate digit when it is at most this many times as wide
#: as its own height (a digit written in pieces that are all lower than it).
WHOLE_ASPECT = 1.5
#: Largest number of geometric groups one candidate digit may join (a digit traced in pieces).
MAX_JOIN = 5
#: The digits' height is at least this share of the tallest group's: a number with digits in
#: several pieces has many low groups.
TALLEST_SHARE = 0.85
#: Strokes are measured with this many points per digits' scale (``InkDistances``), at most
#: MAX_MEASURED points a stroke.
MEASURE_STEPS = 40
MAX_MEASURED = 400
#: With a digit check, a candidate of m groups scores m · CHECK_WEIGHT · log q besides (``best_split``).
CHECK_WEIGHT = 0.5


@dataclass
class DigitReading:
    """One digit of a number: the recognition and its ``box`` ``(x, y, w, h)`` in input coordinates; for a
    number drawn, ``stroke_indices`` are the strokes it is made of (their places in the drawing, as drawn)."""

    recognition: Recognition
    box: tuple[float, float, float, float]
    stroke_indices: tuple[int, ...] = ()

    def as_dict(self, image: bool = True) -> dict:
        out = self.recognition.as_dict()
        if not image:
            del out["image"]
        out["box"] = [round(float(v), 2) for v in self.box]
        if self.stroke_indices:
            out["stroke_indices"] = list(self.stroke_indices)
        return out


@dataclass
class NumberReading:
    """The digits of a number, left to right; ``reason`` says why there are none."""

    digits: list[DigitReading] = field(default_factory=list)
    reason: str = ""

    @property
    def number(self) -> str:
        return "".join(str(d.recognition.digit) for d in self.digits)

    @property
    def not_digit(self) -> bool:
        """Whether the digit gate says some digit of it is no digit at all."""
        return any(d.recognition.not_digit for d in self.digits)

    def as_dict(self, image: bool = True) -> dict:
        """Plain Python values, for JSON or for JavaScript."""
        return {
            "number": self.number,
            "digits": [d.as_dict(image) for d in self.digits],
            "reason": self.reason if not self.digits else "",
            "not_digit": self.not_digit,
        }


def recognise_batch(network: Network, x: np.ndarray) -> list[Recognition]:
    """Recognitions of ``x (n, 784)`` normalised digits, in one forward pass."""
    if len(x) == 0:
        return []
    return recognitions(network, x, network.feedforward(x))


def recognitions(network: Network, x: np.ndarray, output: np.ndarray) -> list[Recognition]:
    """The recognitions of ``x (n, 784)`` from the network's ``output (n, 10)`` for them."""
    kind = network.output_kind
    probs, sure = probabilities(output, kind), confidence(output, kind)
    return [
        Recognition(digit=int(np.argmax(o)), probabilities=p, confidence=float(c), image=xi)
        for o, p, c, xi in zip(output, probs, sure, x, strict=True)
    ]


@dataclass
class Candidates:
    """What the recogniser chooses from: the sure ``atoms`` (stroke indices, left to right),
    the ``spans`` of consecutive atoms that may be one digit, their normalised ``inputs (n, 784)``,
    their ``boxes`` ``(x, y, w, h)``, the ``penalties`` their geometry costs (``span_penalty``) and
    that geometry as the digit check reads it (``span_geometry``).

    Model-independent: made once, read by any network.
    """

    strokes: list[np.ndarray]
    canvas_size: float
    atoms: list[list[int]] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, 784), dtype=np.float32))
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    penalties: list[float] = field(default_factory=list)
    geometry: list[np.ndarray] = field(default_factory=list)
    reason: str = ""

    def members(self, span: tuple[int, int]) -> list[np.ndarray]:
        return [self.strokes[i] for a in range(*span) for i in self.atoms[a]]

    def indices(self, span: tuple[int, int]) -> tuple[int, ...]:
        """The places of the strokes of ``span`` in ``strokes``, in the order they were drawn."""
        return tuple(sorted(i for a in range(*span) for i in self.atoms[a]))


def recognise_number(network: Network, strokes: list[np.ndarray], canvas_size: float) -> NumberReading:
    """Read the number written as ``strokes`` (each ``(k, 2)`` points ``(x, y)``) on a canvas.

    ``canvas_size`` is the canvas's larger side: marks much smaller than it are not
    digits (dropped).
    """
    reading = read_candidates(network, stroke_candidates(strokes, canvas_size))
    drawn = [i for i, s in enumerate(strokes) if np.asarray(s).size]  # the strokes read: empty ones are dropped
    for d in reading.digits:
        d.stroke_indices = tuple(drawn[i] for i in d.stroke_indices)
    return reading


def stroke_candidates(strokes: list[np.ndarray], canvas_size: float) -> Candidates:
    """The candidate digits of a drawing: sure groups, the spans that may join them, their inputs."""
    try:
        strokes = checked_strokes(strokes)
    except NoDigitError as e:
        return Candidates([], canvas_size, reason=str(e))
    if len(strokes) > MAX_STROKES:
        return Candidates([], canvas_size, reason=f"more than {MAX_STROKES} strokes: too many for a number")
    ink = InkDistances(strokes)
    found = Candidates(strokes, canvas_size, sure_groups(strokes, ink))
    boxes = [stroke_box([strokes[i] for i in atom]) for atom in found.atoms]
    height = line_height(boxes)
    shapes = []
    for span in candidate_spans(boxes, height):
        box = stroke_box(found.members(span))
        if max(box[2:]) < STRAY_SHARE * height:
            continue  # a mark much smaller than the digits around it: a dot, a slip of the pen
        shapes.append((span, box, ink.bridge(found.atoms[span[0] : span[1]])))
    if fewest_digits(len(found.atoms), [span for span, _, _ in shapes]) > MAX_DIGITS:
        return Candidates([], canvas_size, reason=TOO_MANY_DIGITS)  # known before any rendering
    inputs = []
    for span, box, bridge in shapes:
        try:
            inputs.append(normalise_strokes(found.members(span), canvas_size))
        except NoDigitError:
            continue
        found.spans.append(span)
        found.boxes.append(box)
        found.penalties.append(span_penalty(box, height, bridge))
        found.geometry.append(span_geometry(box, height, bridge, span[1] - span[0]))
    found.inputs = np.array(inputs, dtype=np.float32).reshape(-1, 784)
    return found


def fewest_digits(n: int, spans: list[tuple[int, int]]) -> float:
    """The fewest digits any split of ``n`` groups into ``spans`` gives (stray groups cost none;
    ``inf`` when there is no split)."""
    best = best_partition(n, dict.fromkeys(spans, -1.0))
    return -best[0] if best is not None else np.inf


def read_candidates(network: Network, found: Candidates) -> NumberReading:
    """The grouping that maximises the score of ``best_split``, each digit recognised.

    When the whole drawing is one digit, it is recognised by ``recognise_strokes``
    itself, so that one digit reads exactly as on the single-digit pad.
    """
    if found.reason:
        return NumberReading(reason=found.reason)
    read, checks = recognise_spans(network, found)
    recognised = dict(zip(found.spans, read, strict=True))
    best = best_split(found, [r.confidence for r in read], checks)
    if not best:
        return NumberReading(reason="the drawing is too small to be a digit")
    if len(best) > MAX_DIGITS:
        return NumberReading(reason=TOO_MANY_DIGITS)
    if best == [(0, len(found.atoms))]:
        single = recognise_strokes(network, found.strokes, found.canvas_size)
        return NumberReading([DigitReading(single, stroke_box(found.strokes), tuple(range(len(found.strokes))))])
    boxes = dict(zip(found.spans, found.boxes, strict=True))
    # the digits of a number are read by the image alone: the pen path reader is fitted and its weight chosen on
    # single digits, and on numbers it has not been shown to help (weights/numbers.md reads traced digits, whose
    # stroke order is the tracing's, not a writer's)
    return NumberReading([DigitReading(recognised[span], boxes[span], found.indices(span)) for span in best])


def recognise_spans(network: Network, found: Candidates) -> tuple[list[Recognition], np.ndarray | None]:
    """The recognition of each candidate of ``found`` (with the digit gate's answer, when the network has one)
    and, when the network has a digit check, the probability ``q (n,)`` that each is one whole digit (else
    None), in one forward pass."""
    check, gate = network.digit_check, network.digit_gate
    if (check is None and gate is None) or len(found.inputs) == 0:
        return recognise_batch(network, found.inputs), None
    hidden, output = network.features_and_outputs(found.inputs)
    read, probs = recognitions(network, found.inputs, output), probabilities(output, network.output_kind)
    if gate is not None:
        gated(gate, read, hidden, probs)
    if check is None:
        return read, None
    q = check.probability(check_features(hidden, probs, geometry_of(found)))
    return read, np.nan_to_num(q, nan=0.0)  # NaN only from a check of absurd weights: no digit


def check_inputs(network: Network, found: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """The network's outputs ``(n, 10)`` for the candidates of ``found`` and what the digit check reads of
    each, ``f (n, n_features)`` (``check_features``), in one forward pass."""
    hidden, output = network.features_and_outputs(found.inputs)
    return output, check_features(hidden, probabilities(output, network.output_kind), geometry_of(found))


def geometry_of(found: Candidates) -> np.ndarray:
    """The candidates' ``span_geometry`` rows ``(n, GEOMETRY)``."""
    return np.array(found.geometry, dtype=np.float64).reshape(-1, GEOMETRY)


def stroke_box(strokes: list[np.ndarray]) -> tuple[float, float, float, float]:
    """``(x, y, w, h)`` bounding box of ``strokes``."""
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    return float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])


def x_overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Overlap of x-intervals ``a`` and ``b`` as a share of the narrower (negative: the gap, in pixels)."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter < 0:
        return inter
    return (inter + 1e-9) / (min(a[1] - a[0], b[1] - b[0]) + 1e-9)  # a vertical line inside the other: 1


def one_digit(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether boxes ``(x, y, w, h)`` ``a`` and ``b`` surely belong to one digit.

    Yes when the narrower lies (nearly) within the other's columns; or when they overlap
    by more than ``SURE_OVERLAP`` of the narrower, its centre within the wider, and the
    narrower is short (a 5's flag, a 7's bar): a full-height stroke overlapping a
    neighbour may be a slanted 1.
    """
    narrow, wide = (a, b) if a[2] <= b[2] else (b, a)
    overlap = x_overlap((a[0], a[0] + a[2]), (b[0], b[0] + b[2]))
    centre = narrow[0] + narrow[2] / 2
    short = narrow[3] < SHORT_SHARE * wide[3]
    return overlap > FULL_OVERLAP or (overlap > SURE_OVERLAP and wide[0] <= centre <= wide[0] + wide[2] and short)


def sure_groups(strokes: list[np.ndarray], ink: InkDistances | None = None) -> list[list[int]]:
    """Stroke indices grouped where the geometry leaves no doubt, sorted left to right.

    Groups merge while ``one_digit`` says their boxes are one digit's and their ink
    touches (comes within ``TOUCH`` of the taller one's height). A group that grew is
    compared with the others again.
    """
    ink = InkDistances(strokes) if ink is None else ink
    groups = {i: [i] for i in range(len(strokes))}
    boxes = {i: stroke_box([strokes[i]]) for i in groups}
    grown = list(groups)
    while grown:
        a = grown.pop(0)
        if a not in groups:
            continue
        for b in groups:
            near = TOUCH * max(boxes[a][3], boxes[b][3])
            if b != a and one_digit(boxes[a], boxes[b]) and ink.touch(groups[a], groups[b], near):
                groups[a] += groups.pop(b)
                boxes[a] = stroke_box([strokes[i] for i in groups[a]])
                grown.append(a)
                break
    keys = sorted(groups, key=lambda k: 2 * boxes[k][0] + boxes[k][2])
    return [sorted(groups[k]) for k in keys]


class InkDistances:
    """Distances between the ink of strokes, measured once per pair of strokes.

    Each stroke is resampled along its length every 1/``MEASURE_STEPS`` of the digits' scale
    (the tallest stroke, or a twelfth of the drawing's width if more) and at most
    ``MAX_MEASURED`` points: the nearest two points of two strokes are then as far apart as
    their ink, within one step, and strokes that cross are within one step. Strokes whose
    boxes are farther apart than a distance sought are not measured.
    """

    def __init__(self, strokes: list[np.ndarray]) -> None:
        points = np.concatenate(strokes)
        scale = max(max(float(np.ptp(s[:, 1])) for s in strokes), float(np.ptp(points[:, 0])) / MAX_DIGITS)
        self.points = [resampled(s, scale / MEASURE_STEPS) for s in strokes]
        self.low = [p.min(axis=0) for p in self.points]
        self.high = [p.max(axis=0) for p in self.points]
        self.known: dict[tuple[int, int], float] = {}

    def pair(self, i: int, j: int) -> float:
        """Distance between strokes ``i`` and ``j``."""
        key = (min(i, j), max(i, j))
        if key not in self.known:
            p, q = self.points[i], self.points[j]
            dx, dy = p[:, None, 0] - q[None, :, 0], p[:, None, 1] - q[None, :, 1]
            self.known[key] = float(np.sqrt(np.min(dx * dx + dy * dy)))
        return self.known[key]

    def box_gap(self, i: int, j: int) -> float:
        """Distance between the boxes of strokes ``i`` and ``j``: at most their distance."""
        dx, dy = np.maximum(0.0, np.maximum(self.low[j] - self.high[i], self.low[i] - self.high[j]))
        return float(np.hypot(dx, dy))

    def touch(self, a: list[int], b: list[int], near: float) -> bool:
        """Whether the ink of stroke groups ``a`` and ``b`` comes within ``near``."""
        return any(self.box_gap(i, j) <= near and self.pair(i, j) <= near for i in a for j in b)

    def between(self, a: list[int], b: list[int]) -> float:
        """Distance between the ink of stroke groups ``a`` and ``b``: the nearest pairs of boxes first."""
        best = np.inf
        for gap, i, j in sorted((self.box_gap(i, j), i, j) for i in a for j in b):
            if gap >= best:
                break
            best = min(best, self.pair(i, j))
        return float(best)

    def bridge(self, parts: list[list[int]]) -> float:
        """The widest gap that joining ``parts`` (stroke groups) bridges: the longest edge of
        the shortest tree connecting them (0 for one part, or parts that touch)."""
        joined, widest = [0], 0.0
        rest = list(range(1, len(parts)))
        while rest:  # Prim's algorithm: join the nearest part next
            gap, nearest = min((min(self.between(parts[j], parts[k]) for j in joined), k) for k in rest)
            widest = max(widest, gap)
            joined.append(nearest)
            rest.remove(nearest)
        return widest


def resampled(stroke: np.ndarray, step: float) -> np.ndarray:
    """Points along ``stroke (k, 2)`` every ``step`` of its length (more apart past ``MAX_MEASURED``
    points), its ends included."""
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(stroke, axis=0).T))])
    step = max(step, arc[-1] / MAX_MEASURED, 1e-9)
    at = np.append(np.arange(0.0, arc[-1], step), arc[-1])
    return np.stack([np.interp(at, arc, stroke[:, 0]), np.interp(at, arc, stroke[:, 1])], axis=1)


def line_height(boxes: list[tuple[float, float, float, float]]) -> float:
    """The digits' typical height, for the groups' ``boxes``: the 75th percentile of their heights
    (parts of digits are lower), at least ``TALLEST_SHARE`` of the tallest; never 0 (a dash is flat)."""
    heights = [box[3] for box in boxes]
    return float(max(np.percentile(heights, 75), TALLEST_SHARE * max(heights), 1e-9))


def candidate_spans(boxes: list[tuple[float, float, float, float]], height: float) -> list[tuple[int, int]]:
    """Runs ``[start, stop)`` of consecutive groups (``boxes``, left to right) that may form one digit.

    A run never crosses a sure gap (wider than ``SURE_GAP`` of the digits' ``height``),
    joins at most ``MAX_JOIN`` groups and is at most ``MAX_WIDTH`` heights wide: wider
    runs are two digits (and each candidate costs a rendering and a forward pass). Besides,
    the whole drawing of at most ``MAX_JOIN`` groups is a candidate when it is at most
    ``WHOLE_ASPECT`` times as wide as it is tall, gaps or not: one digit written in pieces,
    where ``height`` is a piece's (a slanted 3 or 8 in two halves).
    """
    spans = []
    for start in range(len(boxes)):
        left, right = boxes[start][0], boxes[start][0] + boxes[start][2]
        spans.append((start, start + 1))
        for stop in range(start + 1, min(len(boxes), start + MAX_JOIN)):
            gap = boxes[stop][0] - right
            right = max(right, boxes[stop][0] + boxes[stop][2])
            if gap > SURE_GAP * height or right - left > MAX_WIDTH * height:
                break
            spans.append((start, stop + 1))
    whole = (0, len(boxes))
    if 1 < len(boxes) <= MAX_JOIN and whole not in spans:
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
        if right - left <= WHOLE_ASPECT * (bottom - top):
            spans.append(whole)
    return spans


def span_penalty(box: tuple[float, float, float, float], height: float, bridge: float) -> float:
    """What a candidate digit's geometry costs it, for its box ``(x, y, w, h)`` among digits of ``height``:

    ASPECT_WEIGHT · log(aspect / MAX_ASPECT)  when wider than MAX_ASPECT (aspect = w / h)
    + HEIGHT_WEIGHT · log(LOW_SHARE · height / h)  when lower than LOW_SHARE · height
    + LINK_WEIGHT · bridge / height,  ``bridge`` the widest gap between its parts (``InkDistances.bridge``).
    """
    _, _, w, h = box
    h = max(h, 1e-9)
    penalty = LINK_WEIGHT * bridge / height
    if w / h > MAX_ASPECT:
        penalty += ASPECT_WEIGHT * float(np.log(w / h / MAX_ASPECT))
    if h < LOW_SHARE * height:  # a piece of a digit is lower than the digits around it
        penalty += HEIGHT_WEIGHT * float(np.log(LOW_SHARE * height / h))
    return penalty


def best_split(found: Candidates, confidences: list[float], checks: np.ndarray | None = None) -> list[tuple[int, int]]:
    """The partition of ``found.atoms`` into recognised spans with the best score (``best_partition``).

    score(span) = m · (log(confidence) + CHECK_WEIGHT · log q) − penalty, ``m`` the span's number of
    groups (so that joining and splitting pay alike per group), ``q`` the digit check's probability
    that it is one whole digit (1 without ``checks``), ``penalty`` its geometry's (``span_penalty``).
    """
    checks = np.ones(len(found.spans)) if checks is None else checks
    scores = {
        (a, b): (b - a) * (float(np.log(max(sure, 1e-6))) + CHECK_WEIGHT * float(np.log(max(q, 1e-6)))) - penalty
        for (a, b), sure, q, penalty in zip(found.spans, confidences, checks, found.penalties, strict=True)
    }
    best = best_partition(len(found.atoms), scores)
    return best[1] if best is not None else []


def best_partition(n: int, scores: dict[tuple[int, int], float]) -> tuple[float, list[tuple[int, int]]] | None:
    """The split of ``n`` groups into runs ``[a, b)`` of ``scores`` with the highest total, and that total
    (dynamic programming; None when there is none). A group that is no run of its own (a stray mark) is
    skipped at no cost; on equal totals the groups stay apart."""
    best: list[tuple[float, list[tuple[int, int]]] | None] = [None] * (n + 1)
    best[0] = (0.0, [])
    shortest_first = sorted(scores.items(), key=lambda item: -item[0][0])
    for stop in range(1, n + 1):
        if best[stop - 1] is not None and (stop - 1, stop) not in scores:
            best[stop] = best[stop - 1]  # a stray mark: dropped
        for (a, b), score in shortest_first:  # so that a tie keeps the shorter run
            if b != stop or best[a] is None:
                continue
            total = best[a][0] + score
            if best[stop] is None or total > best[stop][0]:
                best[stop] = (total, [*best[a][1], (a, b)])
    return best[n]
