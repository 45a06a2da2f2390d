"""Where the committed models and the figures made of them live: one definition for the command line, the
training code and the site builder."""

from __future__ import annotations

from pathlib import Path

#: The committed models' folder: the clone's ``weights/``, else ``weights`` in the working folder.
_CLONE = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS = _CLONE if _CLONE.is_dir() else Path("weights")
#: The models installed with the package (``pip install .``: the default model), found where ``WEIGHTS`` has none.
INSTALLED = Path(__file__).resolve().parent.parent / "models"
#: Generated beside the models: each model on real writers held out (``digitnet evaluate --real-writers``) and
#: on the robustness sets (``digitnet evaluate --suite``).
WRITERS_FILE = "writers.json"
ROBUSTNESS_FILE = "robustness.json"
GENERATED_FILES = (ROBUSTNESS_FILE, WRITERS_FILE)


def model_files(weights: Path) -> list[Path]:
    """The model files of a weights folder: ``NAME.json``, not ``NAME.history.json`` and the like."""
    return [p for p in sorted(weights.glob("*.json")) if p.name.count(".") == 1 and p.name not in GENERATED_FILES]
