"""Running a recipe: epochs of SGD, evaluation after each, the best model kept,
a checkpoint after every epoch so an interrupted run resumes where it stopped.

Files in the output directory, for recipe NAME:
``NAME.json`` (best model), ``NAME.history.json`` (per-epoch figures) and
``NAME.checkpoint.npz``, kept after the last epoch so that a run with more epochs
extends a finished one instead of starting over.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import digitnet
from digitnet.augment import augment
from digitnet.backprop import check_output, one_hot, sgd_epoch, total_cost
from digitnet.costs import cost_named
from digitnet.errors import DigitnetError
from digitnet.layers import Conv2D
from digitnet.modelfile import load_model, model_to_dict, parse_model, save_model, write_atomic
from digitnet.network import Network
from digitnet.optimisers import SGD, Adam, cosine_rate
from digitnet.training import writers as writers_data
from digitnet.training.batches import correct_in_batches
from digitnet.training.initialisation import build_mlp, build_network
from digitnet.training.mnist import Mnist, Split, load_mnist
from digitnet.training.parallel import part_runner
from digitnet.training.randomise import concatenate, shifted_and_noisy, with_randomised_copies
from digitnet.training.recipes import Recipe
from digitnet.training.robustness import drawn_copies
from digitnet.training.writers import Writers


class CheckpointError(DigitnetError, RuntimeError):
    """A checkpoint that cannot be resumed (corrupt, or from other settings)."""


@dataclass
class RunState:
    """Everything needed to continue a run after its last completed epoch."""

    network: Network
    best: Network
    rng: np.random.Generator
    optimiser: SGD | Adam
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs_done(self) -> int:
        return len(self.history)


def output_paths(out_dir: Path, recipe: Recipe) -> dict[str, Path]:
    name = recipe.run_name
    return {
        "model": out_dir / f"{name}.json",
        "history": out_dir / f"{name}.history.json",
        "checkpoint": out_dir / f"{name}.checkpoint.npz",
    }


def train_recipe(
    recipe: Recipe,
    data: Mnist,
    out_dir: Path,
    restart: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, int], Callable[[int], None] | None] | None = None,
    on_resume: Callable[[int], None] | None = None,
    writers: Writers | None = None,
) -> Network:
    """Train ``recipe`` on ``data`` to the end, resuming from a checkpoint unless ``restart``.

    A checkpoint of a finished run with fewer epochs is extended to ``recipe.epochs``
    (a cosine schedule then follows the new total from the next epoch on).
    ``on_epoch`` receives each epoch's figures; ``progress(epoch, n)`` may return
    a per-batch callback; ``on_resume(k)`` is told the number of epochs a checkpoint
    already holds. ``writers``: the real writers' strokes, for a recipe that learns from them.
    Returns the best network, also written to ``out_dir``.
    """
    paths = output_paths(out_dir, recipe)
    cost = cost_named(recipe.cost)
    settings = {**recipe.settings(), "train_size": len(data.train)}
    pen = writer_split(recipe, writers)
    if pen is not None:
        settings["writers_sha256"] = pen.learnt.sha256
    state = None if restart else load_checkpoint(paths["checkpoint"], settings, recipe)
    if state is None:
        rng = np.random.default_rng(recipe.seed)
        network = initial_network(recipe, rng)
        state = RunState(network, copy.deepcopy(network), rng, make_optimiser(recipe, len(data.train)))
    elif on_resume:
        on_resume(state.epochs_done)
    if state.epochs_done == recipe.epochs and paths["model"].exists():
        saved = load_model(paths["model"])
        if saved.metadata.get("epochs") == state.epochs_done:
            return saved  # finished already: nothing to train, nothing to rewrite
        # else the run stopped between its last checkpoint and writing the model: write it now
    check_output(state.network, cost)
    targets = one_hot(data.train.labels)
    settings_aug = recipe.augmentation
    factors = dict(recipe.layer_rates)
    rates = [factors.get(layer.kind, 1.0) for layer in state.network.layers] if factors else None
    drawn = drawn_copies(data.train.images) if recipe.augment and settings_aug.drawn > 0 else None
    for epoch in range(state.epochs_done + 1, recipe.epochs + 1):
        started = time.perf_counter()
        state.optimiser.lr = learning_rate(recipe, epoch)
        images, labels = data.train.images, targets
        geometric = epoch <= recipe.epochs - recipe.clean_epochs
        if recipe.augment and (geometric or settings_aug.pixel_level):
            # the clean epochs drop the geometric distortion only: pixel-level changes stay
            images = augment(images, state.rng, settings_aug, geometric, drawn)
        if pen is not None:
            images, labels = pen.with_drawings(images, labels, state.rng)
        on_batch = progress(epoch, len(images)) if progress else None
        with part_runner(recipe.batch_parts) as run:
            sgd_epoch(
                state.network,
                cost,
                images,
                labels,
                recipe.batch_size,
                state.optimiser,
                state.rng,
                on_batch,
                rates=rates,
                parts=recipe.batch_parts,
                run=run,
            )
        seconds = time.perf_counter() - started
        figures = evaluate_epoch(state.network, cost, data, targets, recipe)
        figures = {"epoch": epoch, "seconds": round(seconds, 3), **figures}
        if pen is not None and pen.held_out is not None:
            figures["held_out_writers_accuracy"] = pen.held_out_accuracy(state.network)
        if is_better(figures, state.history, recipe.select_on):
            state.best = copy.deepcopy(state.network)
        state.history.append(figures)
        save_checkpoint(paths["checkpoint"], state, settings)
        if on_epoch:
            on_epoch(figures)
    return finish(recipe, data, state, settings, paths, pen)


@dataclass
class PenData:
    """The writers a run learns from (``learnt``) and those it holds out (their fold's writers, rendered)."""

    recipe: Recipe
    learnt: Writers
    held_out: Writers | None
    samples: list = field(init=False)
    held_out_images: np.ndarray = field(init=False)
    held_out_usable: np.ndarray = field(init=False)
    held_out_labels: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.samples = [s for w in self.learnt.ids() for s in self.learnt.samples[w]]
        if self.held_out is not None:
            samples = [s for w in self.held_out.ids() for s in self.held_out.samples[w]]
            self.held_out_images, self.held_out_usable = writers_data.render(samples)
            self.held_out_labels = np.array([s.label for s in samples])

    def with_drawings(
        self, images: np.ndarray, targets: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``images``, ``targets`` followed by this epoch's changed renderings of the writers' drawings."""
        recipe = self.recipe
        pen, labels = writers_data.augmented_images(self.samples, rng, recipe.writer_copies, recipe.stroke_augmentation)
        return np.concatenate([images, pen.astype(images.dtype)]), np.concatenate([targets, one_hot(labels)])

    def held_out_accuracy(self, network: Network) -> float:
        """The image network's figure (%) on the held-out writers, in float32 as the epochs' other figures:
        watched in the history, never chosen on."""
        folded = network.folded(np.float32)
        answers = writers_data.predictions(folded, self.held_out_images, self.held_out_usable)
        return round(100 * float(np.mean(answers == self.held_out_labels)), 2)

    def metadata(self) -> dict[str, Any]:
        return {
            "trained_on": self.learnt.ids(),
            "held_out": [] if self.held_out is None else self.held_out.ids(),
            "fold": self.recipe.held_out,
            "source": writers_data.CREDIT,
            "sha256": self.learnt.sha256,
        }


def writer_split(recipe: Recipe, writers: Writers | None) -> PenData | None:
    """What a recipe that learns from real writers needs of them (None for an MNIST-only recipe)."""
    if not recipe.writers:
        return None
    if writers is None:
        raise writers_data.WritersError(f"recipe {recipe.name} learns from real writers' strokes: none were given")
    ids = writers.ids()
    if not recipe.held_out:
        return PenData(recipe, writers, None)
    held = writers_data.fold_writers(ids, recipe.held_out)
    return PenData(recipe, writers.subset(set(ids) - set(held)), writers.subset(held))


def recipe_data(recipe: Recipe, data_dir: Path | None = None) -> Mnist:
    """MNIST split as the recipe trains on it (randomised copies drawn from the recipe's seed)."""
    if recipe.data == "mnist":
        return load_mnist(data_dir)
    rng = np.random.default_rng([recipe.seed, 2024])
    if recipe.data == "randomised":
        data = load_mnist(data_dir)
        validation = concatenate(data.validation, shifted_and_noisy(data.validation, rng, recipe.noise_high))
        train = with_randomised_copies(data.train, rng, recipe.noise_high)
        return dataclasses.replace(data, train=train, validation=validation)
    if recipe.data == "all-randomised":
        data = load_mnist(data_dir, use_all=True)
        return dataclasses.replace(data, train=with_randomised_copies(data.train, rng, recipe.noise_high))
    raise ValueError(f"unknown data {recipe.data!r} (known: mnist, randomised, all-randomised)")


def initial_network(recipe: Recipe, rng: np.random.Generator) -> Network:
    if recipe.architecture:
        return build_network(recipe.architecture, recipe.cost, recipe.init, rng)
    return build_mlp(list(recipe.sizes), recipe.hidden, recipe.output, recipe.init, recipe.cost, rng)


def make_optimiser(recipe: Recipe, n: int) -> SGD | Adam:
    """The recipe's update rule: SGD with Nielsen's L2 term, or Adam with decoupled weight decay."""
    if recipe.optimiser == "adam":
        return Adam(recipe.eta, weight_decay=recipe.weight_decay)
    if recipe.optimiser == "sgd":
        return SGD(recipe.eta, recipe.l2, n, recipe.momentum)
    raise ValueError(f"unknown optimiser {recipe.optimiser!r} (known: sgd, adam)")


def learning_rate(recipe: Recipe, epoch: int) -> float:
    if recipe.schedule == "cosine":
        return cosine_rate(recipe.eta, epoch, recipe.epochs, recipe.warmup)
    return recipe.eta


def evaluate_epoch(network: Network, cost: Any, data: Mnist, targets: np.ndarray, recipe: Recipe) -> dict[str, Any]:
    """Accuracy on each held-out split (and the training split and cost, where the recipe
    monitors them), as counts and percentages.

    Computed in float32 with each batch norm merged into the layer before it: half the time of
    float64, which a 30-epoch cnn run spends two minutes on. The saved model's own figures are
    computed again in float64, as every reader computes them (``finish``).
    """
    figures: dict[str, Any] = {}
    if recipe.watches_training:
        cost_value = total_cost(network, cost, data.train.images, targets, recipe.l2)
        figures["training_cost"] = round(cost_value, 6)
    return {**figures, **split_figures(network.folded(np.float32), data, recipe, np.float32)}


def split_figures(network: Network, data: Mnist, recipe: Recipe, dtype: type = np.float64) -> dict[str, Any]:
    """``{split}_correct`` and ``{split}_accuracy`` (%) on the held-out splits, and on the training
    split where the recipe watches or selects on it."""
    splits: dict[str, Split | None] = {"validation": data.validation, "test": data.test}
    if recipe.watches_training:
        splits = {"training": data.train, **splits}
    figures: dict[str, Any] = {}
    for name, split in splits.items():
        if split is not None:
            correct = correct_in_batches(network, split.images, split.labels, dtype=dtype)
            figures[f"{name}_correct"] = correct
            figures[f"{name}_accuracy"] = round(100 * correct / len(split), 2)
    return figures


def is_better(figures: dict[str, Any], history: list[dict[str, Any]], select_on: str) -> bool:
    """Whether this epoch beats every earlier one on ``select_on`` ("validation" or "training")."""
    key = f"{select_on}_correct"
    return all(figures[key] > earlier[key] for earlier in history)


def finish(
    recipe: Recipe,
    data: Mnist,
    state: RunState,
    settings: dict[str, Any],
    paths: dict[str, Path],
    pen: PenData | None = None,
) -> Network:
    """Write the best model (with its metadata) and the history; return the best model."""
    key = f"{recipe.select_on}_correct"
    best_epoch = max(state.history, key=lambda h: (h[key], -h["epoch"]))
    best = state.best
    best.metadata = {
        "recipe": recipe.name,
        "description": recipe.description,
        "settings": settings,
        "selected_on": recipe.select_on,
        "best_epoch": best_epoch["epoch"],
        "epochs": state.epochs_done,
        # the model's own figures in float64, as every reader computes them (the history's float32
        # figures for this epoch may differ by an image)
        **split_figures(best, data, recipe),
        "test_size": len(data.test) if data.test is not None else 0,
        "validation_size": len(data.validation) if data.validation is not None else 0,
        "training_seconds": round(sum(h["seconds"] for h in state.history), 1),
        "dataset_sha256": data.checksums,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "digitnet_version": digitnet.__version__,
    }
    if pen is not None:
        best.metadata["writers"] = pen.metadata()
        if recipe.pen_path:
            from digitnet.training.pen_order import fitted

            started = time.perf_counter()
            best = fitted(best, pen.learnt, recipe.seed)
            best.metadata["pen_path"]["seconds"] = round(time.perf_counter() - started, 1)
    if recipe.digit_gate:
        from digitnet.training.digit_gate import fitted_gate

        started = time.perf_counter()
        best = fitted_gate(best, data, pen.learnt if pen is not None else None)
        best.metadata["digit_gate"]["seconds"] = round(time.perf_counter() - started, 1)
    if data.test is not None:
        best.metadata["peak_test_accuracy"] = max(h["test_accuracy"] for h in state.history)
    save_model(best, paths["model"])
    history = {"recipe": recipe.name, "settings": settings, "best_epoch": best_epoch["epoch"], "epochs": state.history}
    write_atomic(paths["history"], json.dumps(history, indent=1).encode())
    return best


#: Layer specs' names from before the specs took their layers' kinds: the settings recorded in the committed cnn
#: models and in checkpoints of runs begun then name the convolution "conv". Read as its kind here only, where
#: recorded settings are compared, so that those checkpoints still continue.
FORMER_SPEC_NAMES = {"conv": Conv2D.kind}


def without_epochs(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that must match for a checkpoint to be continued: all but the number of epochs, with each
    layer spec named by its layer's kind."""
    kept = {key: value for key, value in settings.items() if key != "epochs"}
    if "architecture" in kept:
        kept["architecture"] = [[FORMER_SPEC_NAMES.get(kind, kind), *args] for kind, *args in kept["architecture"]]
    return kept


def save_checkpoint(path: Path, state: RunState, settings: dict[str, Any]) -> None:
    """The current and best networks (as model files), the optimiser's state, the RNG state
    and the history, atomically."""
    meta = {"settings": settings, "history": state.history, "rng": state.rng.bit_generator.state}
    models = {name: json.dumps(model_to_dict(net)) for name, net in (("net", state.network), ("best", state.best))}
    arrays = {f"opt.{i}": a for i, a in enumerate(state.optimiser.state())}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **{k: np.array(v) for k, v in models.items()}, **arrays)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path, settings: dict[str, Any], recipe: Recipe) -> RunState | None:
    """The state saved at ``path``, or None when there is none; a mismatch or corruption is an error."""
    if not path.exists():
        return None
    try:
        with np.load(path) as saved:
            meta = json.loads(str(saved["meta"]))
            networks = [parse_model(str(saved[name]), name=f"{path} ({name})") for name in ("net", "best")]
            optimiser_state = [saved[f"opt.{i}"] for i in range(sum(k.startswith("opt.") for k in saved.files))]
    except Exception as e:
        raise CheckpointError(f"{path}: unreadable checkpoint ({e}); delete it or pass --restart") from None
    if without_epochs(meta["settings"]) != without_epochs(settings):
        raise CheckpointError(
            f"{path}: checkpoint was made with other settings ({meta['settings']}); delete it or pass --restart"
        )
    if len(meta["history"]) > settings["epochs"]:
        raise CheckpointError(
            f"{path}: the checkpoint already holds {len(meta['history'])} epochs, more than the "
            f"{settings['epochs']} asked for; pass --epochs {len(meta['history'])} or more, or --restart"
        )
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng"]
    optimiser = make_optimiser(recipe, settings["train_size"])
    if optimiser_state:
        optimiser.load_state(optimiser_state)
    return RunState(networks[0], networks[1], rng, optimiser, meta["history"])
