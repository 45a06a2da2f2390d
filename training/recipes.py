"""Experiment recipes: the networks of Nielsen's book and of the original Rust-NN project.

A recipe fixes everything a run depends on, so ``digitnet train --recipe NAME``
reproduces it; ``book`` and ``original`` hold the accuracies those sources
report, for the results table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from digitnet.augment import Augmentation, StrokeAugmentation


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one training run (η = ``eta``; ``l2`` is Nielsen's λ, the L2 term of SGD;
    ``weight_decay`` is Adam's decoupled decay)."""

    name: str
    description: str
    sizes: tuple[int, ...]
    hidden: str
    output: str
    cost: str
    init: str
    eta: float
    l2: float
    batch_size: int
    epochs: int
    seed: int
    select_on: str = "validation"
    book: str = ""
    original: str = ""
    target: float | None = None
    #: layer specs of a network not described by ``sizes`` (see ``initialisation.build_network``)
    architecture: tuple[tuple, ...] = ()
    optimiser: str = "sgd"
    weight_decay: float = 0.0
    #: learning-rate factors by layer type, e.g. (("patch-features", 0.01),): η·factor for those layers
    layer_rates: tuple[tuple[str, float], ...] = ()
    momentum: float = 0.0
    schedule: str = "constant"  # or "cosine": η decays to 1 % over the run, after ``warmup`` epochs
    warmup: int = 0
    augment: bool = False  # random affine + elastic copies of the training images, new every epoch
    augmentation: Augmentation = field(default_factory=Augmentation)  # their ranges
    clean_epochs: int = 0  # the last epochs of an augmented run train on the unaltered images
    monitor_training: bool = True  # evaluate the training split after every epoch
    #: "mnist" (50,000 / 10,000 / 10,000), "randomised" (the original's 100,000 training images,
    #: validation with its shifted-and-noisy copies) or "all-randomised" (all 70,000 + copies, no held-out set)
    data: str = "mnist"
    noise_high: int = 150  # most pixels flipped in a noisy copy
    #: each mini-batch computed in this many parts at once, one thread each (``training.parallel``);
    #: batch normalisation then takes each part's own statistics (``digitnet.backprop.backprop``)
    batch_parts: int = 1
    #: also learn from the real writers' pen strokes (``training.writers``): every epoch, ``writer_copies``
    #: renderings of each of their drawings changed by ``stroke_augmentation``; all writers but those of
    #: fold ``held_out`` (0: none held out)
    writers: bool = False
    writer_copies: int = 2
    stroke_augmentation: StrokeAugmentation = field(default_factory=StrokeAugmentation)
    held_out: int = 0
    #: with ``writers``: after training, fit the model's pen path reader on the writers it learnt from
    #: (``training.pen_order``; recorded in the model's metadata, not a setting of the image network)
    pen_path: bool = False
    #: after training, fit the model's digit gate, which says "not a digit" (``training.digit_gate``; recorded in
    #: the model's metadata, not a setting of the image network)
    digit_gate: bool = False

    @property
    def run_name(self) -> str:
        """The name of the run's files: the recipe's, with the held-out fold when there is one."""
        return f"{self.name}-fold{self.held_out}" if self.held_out else self.name

    @property
    def watches_training(self) -> bool:
        """Whether every epoch is measured on the training split too (watched, or selected on)."""
        return self.monitor_training or self.select_on == "training"

    def settings(self) -> dict[str, Any]:
        """Everything that determines the trained weights (a resumed run must match it)."""
        skip = ["name", "description", "book", "original", "target", "monitor_training", "pen_path", "digit_gate"]
        if not self.augment:
            skip += ["augmentation", "clean_epochs"]
        if self.batch_parts == 1:
            skip.append("batch_parts")
        if not self.writers:
            skip += ["writers", "writer_copies", "stroke_augmentation", "held_out"]
        return {k: _plain(v) for k, v in asdict(self).items() if k not in skip}


def _plain(value: Any) -> Any:
    """Tuples as lists, as they come back from JSON."""
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


C1 = Recipe(
    name="c1",
    description="Nielsen ch. 1: sigmoid [784, 30, 10], quadratic cost, N(0, 1) weights",
    sizes=(784, 30, 10),
    hidden="sigmoid",
    output="sigmoid",
    cost="quadratic",
    init="large",
    eta=3.0,
    l2=0.0,
    batch_size=10,
    epochs=30,
    seed=1,
    book="95.42 % (peak, test)",
    original="95.42 % (peak, test)",
    target=95.0,
)

C2 = dataclasses.replace(
    C1,
    name="c2",
    description="Nielsen ch. 3: cross-entropy, L2 λ = 5.0, N(0, 1/n_in) weights",
    cost="cross-entropy",
    init="default",
    eta=0.5,
    l2=5.0,
    book="96.49 %",
    original="96–97 % (peak)",
    target=96.3,
)

C2_100 = dataclasses.replace(
    C2,
    name="c2-100",
    description="c2 with 100 hidden neurons",
    sizes=(784, 100, 10),
    book="97.92 % (validation)",
    original="—",
    target=97.8,
)

C2_MOD = dataclasses.replace(
    C2,
    name="c2_mod",
    description="Rust-NN version 2.1: c2 with η = 1.0 on the randomised data (50,000 images + 50,000 "
    "shifted/noisy copies), best validation epoch kept",
    eta=1.0,
    data="randomised",
    book="—",
    original="68 % on its randomised data (the web page's model)",
    target=96.0,
)

C2_CONV = dataclasses.replace(
    C2_MOD,
    name="c2_conv",
    description="c2_mod with the original's six fixed 4×4 kernels on the 7×7 disjoint patches as 294 extra inputs",
    sizes=(1078, 30, 10),
    architecture=(("patch-features", False), ("dense", 30), ("sigmoid",), ("dense", 10), ("sigmoid",)),
    original="no gain over c2_mod",
    target=None,
)

C2_CONV_LEARNED = dataclasses.replace(
    C2_CONV,
    name="c2_conv-learned",
    description="c2_conv whose six 4×4 patch kernels are learned by backpropagation (starting from the fixed ones), "
    "at η/100: the sum over 49 patches makes their gradient large, and at η = 1.0 the run diverged (64.7 %)",
    architecture=(("patch-features", True), *C2_CONV.architecture[1:]),
    layer_rates=(("patch-features", 0.01),),
    original="—",
)

C2_MOD2 = dataclasses.replace(
    C2_MOD,
    name="c2_mod2",
    description="Rust-NN c2_mod2: [784, 50, 30, 10] on all 70,000 MNIST images + randomised copies "
    "(50–250 flips), best training-accuracy epoch kept; no held-out MNIST left",
    sizes=(784, 50, 30, 10),
    eta=0.5,
    epochs=50,
    data="all-randomised",
    noise_high=250,
    select_on="training",
    original="—",
    target=None,
)

CNN = Recipe(
    name="cnn",
    description="conv 32@5×5 → pool → conv 64@5×5 → pool → 256 → softmax, batch norm after each, ReLU, dropout 0.3; "
    "Adam, cosine schedule; affine + elastic augmentation (none in the last 4 epochs); drawn-on-the-page copies, "
    "thinner and thicker strokes and flipped pixels mixed in throughout; each mini-batch of 64 in two halves "
    "computed at once, batch norm on each half's statistics",
    sizes=(784, 10),
    hidden="relu",
    output="softmax",
    cost="log-likelihood",
    init="he",
    eta=1e-3,
    l2=0.0,
    weight_decay=1e-4,
    batch_size=64,
    epochs=30,
    seed=2,  # of seeds 1–4, the best on validation (99.44, 99.59, 99.55 and 99.54 %)
    book="99.60 % (ch. 6, single net)",
    original="—",
    target=99.6,
    architecture=(
        ("reshape", 28, 28, 1),
        ("conv2d", 32, 5, 0),
        ("batchnorm",),
        ("relu",),
        ("maxpool", 2),
        ("conv2d", 64, 5, 0),
        ("batchnorm",),
        ("relu",),
        ("maxpool", 2),
        ("reshape", -1),
        ("dense", 256),
        ("batchnorm",),
        ("relu",),
        ("dropout", 0.3),
        ("dense", 10),
        ("softmax",),
    ),
    optimiser="adam",
    schedule="cosine",
    warmup=1,
    augment=True,
    augmentation=Augmentation(
        rotation_degrees=10.0,
        scale=0.1,
        shear=0.1,
        shift_pixels=2.0,
        elastic_pixels=0.8,
        drawn=0.3,
        thin=0.15,
        thick=0.1,
        noise=0.3,
    ),
    clean_epochs=4,
    monitor_training=False,
    batch_parts=2,
)

CNN_PEN = dataclasses.replace(
    CNN,
    name="cnn-pen",
    description=CNN.description + "; and the real pen strokes of 30 writers (UCI pen digits), "
    "changed every epoch by slant, aspect, rotation, jitter, smoothing or sparser points, dropped or added "
    "small strokes and pen width; with a reader of the pen's order and direction fused with the image's answer",
    book="—",
    target=99.5,
    writers=True,
    pen_path=True,
    digit_gate=True,
)

#: The recipes of the committed models (``weights/NAME.json``).
RECIPES: dict[str, Recipe] = {
    r.name: r for r in (C1, C2, C2_100, C2_MOD, C2_CONV, C2_CONV_LEARNED, C2_MOD2, CNN, CNN_PEN)
}
#: Recipes under trial, trained with ``digitnet train`` but with no committed model yet.
TRIALS: dict[str, Recipe] = {}


def recipe_named(name: str) -> Recipe:
    known = RECIPES | TRIALS
    if name not in known:
        raise ValueError(f"unknown recipe {name!r} (known: {', '.join(known)})")
    return known[name]
