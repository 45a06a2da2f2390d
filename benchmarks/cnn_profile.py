"""Where a cnn training step spends its time, layer by layer, and the step against an earlier commit.

    python benchmarks/cnn_profile.py [--steps 40] [--before REV] [--allocator]

One mini-batch of 64 through the ``cnn`` recipe's network (forward with batch statistics and
dropout, backward, Adam), single-threaded BLAS, timed by process CPU time so that other work on the
machine disturbs it less. Each layer kind's ``train_forward`` and ``backward`` are timed apart. With
``--before REV`` the same step of that commit (checked out in a temporary git worktree) runs
alternately with this checkout's, each in a fresh process; both keep freed memory for reuse
(``training/allocator.py``, as ``digitnet`` does). With ``--allocator`` this checkout's step also
runs alternately with and without that setting. Writes ``benchmarks/results/cnn_profile.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: set to "default" in a child's environment: the C allocator as it comes (no ``keep_freed_memory``)
ALLOCATOR_SWITCH = "DIGITNET_PROFILE_ALLOCATOR"


def step_function(layer_times: dict | None):
    """This checkout's (or an older one's) cnn training step on a fixed random batch."""
    import numpy as np

    from digitnet.training.recipes import recipe_named
    from digitnet.training.train import initial_network, make_optimiser

    try:  # the layout since the layers carry their own backward passes
        from digitnet.backprop import one_hot, update_mini_batch
        from digitnet.costs import cost_named
        from digitnet.layers import LAYERS
    except ImportError:  # older commits
        from digitnet.training.costs import cost_named
        from digitnet.training.sgd import one_hot, update_mini_batch

        LAYERS = {}
    if os.environ.get(ALLOCATOR_SWITCH) != "default":
        # freed memory kept for reuse as `digitnet` does, by this checkout's module whichever checkout
        # is profiled: a comparison with an earlier commit then measures its layers, not its allocator
        spec = importlib.util.spec_from_file_location("allocator", ROOT / "training" / "allocator.py")
        allocator = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(allocator)
        allocator.keep_freed_memory()
    recipe = recipe_named("cnn")
    rng = np.random.default_rng(1)
    network = initial_network(recipe, rng)
    optimiser = make_optimiser(recipe, 50_000)
    cost = cost_named(recipe.cost)
    x = rng.random((recipe.batch_size, 784), dtype=np.float32)
    y = one_hot(rng.integers(0, 10, recipe.batch_size))
    if layer_times is not None:
        for cls in LAYERS.values():
            for name in ("train_forward", "backward"):
                setattr(cls, name, timed(getattr(cls, name), (cls.kind, name), layer_times))

    def step() -> None:
        update_mini_batch(network, cost, x, y, optimiser, rng)

    return step


def timed(function, key, totals):
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            totals[key] = totals.get(key, 0.0) + time.process_time() - started

    return wrapper


def child(steps: int, per_layer: bool) -> dict:
    layer_times: dict = {}
    step = step_function(layer_times if per_layer else None)
    for _ in range(5):
        step()
    layer_times.clear()
    started = time.process_time()
    for _ in range(steps):
        step()
    total = time.process_time() - started
    result = {"ms_per_step": 1000 * total / steps}
    if per_layer:
        result["layers"] = {f"{k[0]} {k[1]}": 1000 * v / steps for k, v in layer_times.items()}
    return result


def run(source: Path, steps: int, per_layer: bool, default_allocator: bool = False) -> dict:
    env = {**os.environ, **SINGLE_THREAD, "PYTHONPATH": str(source)}
    if default_allocator:
        env[ALLOCATOR_SWITCH] = "default"
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import cnn_profile; "
        "print(json.dumps(cnn_profile.child(int(sys.argv[2]), sys.argv[3] == '1')))"
    )
    command = [sys.executable, "-c", code, str(HERE), str(steps), "1" if per_layer else "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=source)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def package_root(checkout: Path) -> Path:
    """A folder from which ``import digitnet`` finds that checkout's packages (laid out as installed)."""
    tree = Path(tempfile.mkdtemp(prefix="digitnet-"))
    (tree / "digitnet").symlink_to(checkout / "py" / "digitnet")
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="an earlier commit to compare with (e.g. 4783de5)")
    parser.add_argument(
        "--allocator", action="store_true", help="also compare this checkout's step with the C allocator's defaults"
    )
    args = parser.parse_args()
    current = run(ROOT, args.steps, per_layer=True)
    pairs, allocator = [], []
    for _ in range(args.rounds if args.allocator else 0):
        default = run(ROOT, args.steps, per_layer=False, default_allocator=True)["ms_per_step"]
        kept = run(ROOT, args.steps, per_layer=False)["ms_per_step"]
        allocator.append({"default": default, "kept": kept})
    if args.before:
        with tempfile.TemporaryDirectory() as scratch:
            old = Path(scratch) / "before"
            subprocess.run(["git", "worktree", "add", "-q", "--detach", str(old), args.before], cwd=ROOT, check=True)
            try:
                # the old checkout as a package tree: digitnet from py/, digitnet.training from training/
                tree = package_root(old)
                (old / "py" / "digitnet" / "training").symlink_to(old / "training")
                for _ in range(args.rounds):
                    before = run(tree, args.steps, per_layer=False)["ms_per_step"]
                    after = run(ROOT, args.steps, per_layer=False)["ms_per_step"]
                    pairs.append({"before": before, "after": after})
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    load = os.getloadavg()[0]
    results = {
        "steps": args.steps,
        "current": current,
        "pairs": pairs,
        "before": args.before,
        "allocator": allocator,
        "load_average": load,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cnn_profile.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        "# Where a cnn training step spends its time",
        "",
        f"`python benchmarks/cnn_profile.py{' --before ' + args.before if args.before else ''}"
        f"{' --allocator' if args.allocator else ''}`: one mini-batch of 64,"
        f" single-threaded BLAS, process CPU time, mean of {args.steps} steps (1-minute load average {load:.1f}).",
        "",
        f"Whole step: **{current['ms_per_step']:.1f} ms**.",
        "",
        "| layer pass | ms per step | share |",
        "|---|---|---|",
    ]
    for name, ms in sorted(current["layers"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {ms:.2f} | {100 * ms / current['ms_per_step']:.0f} % |")
    if pairs:
        ratio = sum(p["before"] for p in pairs) / sum(p["after"] for p in pairs)
        lines += [
            "",
            f"Against {args.before} (its layers and training code, freed memory kept in both), alternating fresh"
            " processes: "
            + ", ".join(f"{p['before']:.1f} → {p['after']:.1f} ms" for p in pairs)
            + f"; the step is **{ratio:.2f}×** as fast.",
        ]
    if allocator:
        ratio = sum(p["default"] for p in allocator) / sum(p["kept"] for p in allocator)
        lines += [
            "",
            "This checkout with the C allocator's defaults → freed memory kept for reuse (`training/allocator.py`,"
            " as `digitnet` runs), alternating fresh processes: "
            + ", ".join(f"{p['default']:.1f} → {p['kept']:.1f} ms" for p in allocator)
            + f"; the step is **{ratio:.2f}×** as fast.",
        ]
    (RESULTS / "cnn_profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
