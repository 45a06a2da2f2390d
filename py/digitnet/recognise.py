"""From a drawing to an answer: the network's input, its digit, probabilities and confidence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from digitnet.digitcheck import DigitGate
from digitnet.inside import look_inside
from digitnet.memory import Memory
from digitnet.network import Network, confidence, probabilities
from digitnet.preprocess import NoDigitError, normalise
from digitnet.strokes import checked_strokes, normalise_strokes

#: Below this confidence the page suggests drawing the digit again.
LOW_CONFIDENCE = 0.5


@dataclass
class Recognition:
    """``digit`` is None when there is no digit to recognise (``reason`` says why)."""

    digit: int | None
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(10))
    confidence: float = 0.0
    image: np.ndarray = field(default_factory=lambda: np.zeros(784, dtype=np.float32))
    reason: str = ""
    inside: dict | None = None  # what the page's Inside view shows, when asked for (``look_inside``)
    #: the reading without the memory of kept drawings, when the memory changed it (``with_memory``)
    memory: dict | None = None
    #: the network's features of ``image`` (``Network.features_and_outputs``), when asked for
    features: np.ndarray | None = field(default=None, repr=False)
    #: the digit gate's probability that this is a digit at all (``digitnet.digitcheck.DigitGate``), when the
    #: network has a gate; ``not_digit``: it is below the gate's threshold, and no kept drawing alike said otherwise
    digit_like: float | None = None
    not_digit: bool = False

    @property
    def low_confidence(self) -> bool:
        return self.digit is not None and self.confidence < LOW_CONFIDENCE

    def as_dict(self) -> dict:
        """Plain Python values, for JSON or for JavaScript."""
        return (
            {
                "digit": self.digit,
                "probabilities": [float(p) for p in self.probabilities],
                "confidence": float(self.confidence),
                "low_confidence": self.low_confidence,
                "image": [float(v) for v in self.image],
                "reason": self.reason,
                "not_digit": self.not_digit,
            }
            | ({} if self.digit_like is None else {"digit_like": self.digit_like})
            | ({} if self.inside is None else {"inside": self.inside})
            | ({} if self.memory is None else {"memory": self.memory})
        )


def recognise(network: Network, x: np.ndarray, inside: bool = False, features: bool = False) -> Recognition:
    """The network's answer for one normalised input ``x (784,)``; with ``inside``, also what
    each layer did and why (one forward pass for both); with ``features``, also the network's features."""
    if inside:
        output, details = look_inside(network, x)
    elif features:
        f, outputs = network.features_and_outputs(x[None])
        output, details = outputs[0], None
    else:
        output, details = network.feedforward(x), None
    kind = network.output_kind
    recognition = Recognition(
        digit=int(np.argmax(output)),
        probabilities=probabilities(output, kind),
        confidence=float(confidence(output, kind)),
        image=x,
        inside=details,
    )
    if features:
        recognition.features = (network.features_and_outputs(x[None])[0] if inside else f)[0]
    return recognition


def recognise_image(network: Network, ink: np.ndarray) -> Recognition:
    """Recognise a grayscale picture ``ink (H, W)`` (1 = ink), normalised as MNIST was."""
    try:
        return recognise(network, normalise(ink))
    except NoDigitError as e:
        return Recognition(digit=None, reason=str(e))


def recognise_strokes(
    network: Network, strokes: list[np.ndarray], canvas_size: float, inside: bool = False, memory: Memory | None = None
) -> Recognition:
    """Recognise pen strokes, each ``(k, 2)`` points on a canvas whose larger side is ``canvas_size``
    (``inside``: as ``recognise``); a network with a digit gate says whether the image is a digit at all, one with
    a pen path reader (``digitnet.penpath``) fuses its answer with the image's, and a ``memory`` of the person's
    kept drawings (``digitnet.memory``) is blended with that."""
    reads_memory = memory is not None and len(memory) > 0
    features = reads_memory or network.digit_gate is not None
    try:
        recognition = recognise(network, normalise_strokes(strokes, canvas_size), inside, features=features)
    except NoDigitError as e:
        return Recognition(digit=None, reason=str(e))
    if network.digit_gate is not None:
        gated(network.digit_gate, [recognition], recognition.features[None], recognition.probabilities[None])
    recognition = with_pen_path(network, recognition, checked_strokes(strokes))
    return with_memory(recognition, memory) if reads_memory else recognition


def with_memory(recognition: Recognition, memory: Memory) -> Recognition:
    """``recognition`` (made with ``features``) blended with ``memory`` (``digitnet.memory``): unchanged when no
    kept drawing is alike; else the blended probabilities, their winner and its probability as the confidence,
    and under ``memory`` the weight ``α``, how many kept drawings were alike and the digit without the memory."""
    if recognition.digit is None or recognition.features is None:
        return recognition
    reading = memory.read(recognition.features[None], recognition.probabilities[None])
    if reading.weight[0] == 0:
        return recognition
    blended = reading.probabilities[0]
    recognition.memory = {
        "weight": float(reading.weight[0]),
        "alike": int(reading.alike[0]),
        "without_digit": recognition.digit,
        "without_probabilities": [float(p) for p in recognition.probabilities],
    }
    recognition.probabilities = blended
    recognition.digit = int(np.argmax(blended))
    recognition.confidence = float(blended.max())
    recognition.not_digit = False  # the person's own drawings alike say what it is
    return recognition


def gated(gate: DigitGate, read: list[Recognition], hidden: np.ndarray, probabilities: np.ndarray) -> None:
    """Set ``digit_like`` and ``not_digit`` of each of ``read`` from the network's features ``hidden (n, d)`` and
    probabilities ``(n, 10)`` of their images (``DigitGate``)."""
    for recognition, g in zip(read, gate.digit_like(hidden, probabilities), strict=True):
        recognition.digit_like = float(g)
        recognition.not_digit = bool(g < gate.threshold)


def with_pen_path(network: Network, recognition: Recognition, strokes: list[np.ndarray]) -> Recognition:
    """``recognition`` of the image of ``strokes`` (in drawing order), its answer fused with the network's pen
    path reader's (``digitnet.penpath.fuse``); unchanged for a network without one."""
    if network.pen_path is None or recognition.digit is None:
        return recognition
    fused = network.pen_path.fused(recognition.probabilities[None, :], [strokes])[0]
    recognition.probabilities = fused
    recognition.digit = int(np.argmax(fused))
    recognition.confidence = float(fused.max())
    return recognition
