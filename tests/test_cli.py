"""The ``digitnet`` command line, on real files."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet.training.cli import main

from .conftest import ROOT

MODEL = ROOT / "weights" / "c2-100.json"


def save_digit_photo(digit: np.ndarray, path, dark_on_light: bool = True, size: int = 300) -> None:
    """A test digit written large and off-centre, as dark ink on white paper (like a scan)."""
    big = np.kron(digit.reshape(28, 28), np.ones((6, 6)))
    sheet = np.zeros((size, size))
    sheet[20 : 20 + big.shape[0], 100 : 100 + big.shape[1]] = big
    pixels = 255 - sheet * 255 if dark_on_light else sheet * 255
    Image.fromarray(pixels.astype(np.uint8)).convert("RGB").save(path)


def test_predict_pictures(mnist_data, tmp_path, capsys):
    paths = []
    for i in range(10):
        digit, label = mnist_data.test.images[i], mnist_data.test.labels[i]
        path = tmp_path / f"digit{i}_{label}.{'png' if i % 2 else 'jpg'}"
        save_digit_photo(digit, path, dark_on_light=i % 3 != 0)
        paths.append(path)
    assert main(["predict", str(MODEL), *map(str, paths)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert predicted == mnist_data.test.labels[:10].tolist()
    assert all("confidence" in line for line in lines)


def test_predict_transparent_canvas_export(mnist_data, tmp_path, capsys):
    digit, label = mnist_data.test.images[0], mnist_data.test.labels[0]
    alpha = (np.kron(digit.reshape(28, 28), np.ones((8, 8))) * 255).astype(np.uint8)
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., 3] = alpha  # black ink on a transparent sheet
    Image.fromarray(rgba, "RGBA").save(tmp_path / "canvas.png")
    assert main(["predict", str(MODEL), str(tmp_path / "canvas.png")]) == 0
    assert capsys.readouterr().out.split(": ")[1].startswith(str(label))


def test_predict_reports_bad_pictures(tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not a picture")
    Image.new("L", (200, 200), 255).save(tmp_path / "blank.png")
    Image.new("L", (6000, 5000), 255).save(tmp_path / "huge.png")
    code = main(["predict", str(MODEL), *(str(tmp_path / n) for n in ("notes.png", "blank.png", "huge.png", "x.png"))])
    err = capsys.readouterr().err
    assert code == 1
    assert "notes.png: no prediction: " in err and "not an image file" in err
    assert "blank.png: no prediction: no ink found in the picture" in err
    assert "huge.png: no prediction: " in err and "too large" in err
    assert "x.png: no prediction: " in err and "no such file" in err


def test_evaluate_prints_accuracy_and_confusion_matrix(data_dir, capsys):
    assert main(["evaluate", str(MODEL), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    recorded = json.loads(MODEL.read_text())["metadata"]["test_correct"]
    assert f"{recorded} / 10000 correct" in out
    rows = [line.split() for line in out.splitlines()[-10:]]
    matrix = np.array([[int(v) for v in row[1:]] for row in rows])
    assert matrix.shape == (10, 10) and matrix.sum() == 10_000 and np.trace(matrix) == recorded


def test_info_and_errors(tmp_path, capsys):
    assert main(["info", str(MODEL)]) == 0
    out = capsys.readouterr().out
    assert "layer 0: dense (weight [100, 784], bias [100])" in out and "79,510 parameters" in out
    (tmp_path / "broken.json").write_text('{"format": "digitnet-model", "version": 7}')
    assert main(["info", str(tmp_path / "broken.json")]) == 2
    assert "unsupported format version 7" in capsys.readouterr().err


def test_train_command_writes_model_and_history(data_dir, tmp_path, capsys):
    args = ["train", "--recipe", "c2", "--epochs", "2", "--limit", "2000", "--out", str(tmp_path)]
    assert main([*args, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "epoch   1" in out and "epoch   2" in out and "best epoch" in out
    assert (tmp_path / "c2.json").exists() and (tmp_path / "c2.history.json").exists()
    with pytest.raises(SystemExit):
        main(["train", "--recipe", "nope"])


def test_installed_console_script():
    result = subprocess.run(["digitnet", "info", str(MODEL)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "c2-100" in result.stdout


def test_the_installed_package_reads_a_picture_from_any_folder(tmp_path):
    """``pip install .`` ships the default model: ``digitnet predict`` works outside the clone."""
    import sys

    from PIL import ImageDraw

    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp_path / "wheel"), str(ROOT)], check=True)
    wheel = next((tmp_path / "wheel").glob("digitnet-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    picture = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(picture).line([(60, 40), (140, 40), (90, 170)], fill=0, width=14)
    picture.save(elsewhere / "seven.png")
    run = "import sys; from digitnet.training.cli import main; sys.exit(main(['predict', 'seven.png']))"
    done = subprocess.run(
        [sys.executable, "-c", run],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("seven.png: 7 ")
    imported = subprocess.run(
        [sys.executable, "-c", "import digitnet; print(digitnet.__file__)"],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.startswith(str(tmp_path / "site"))  # the installed copy, not the clone


def test_model_takes_a_path_or_a_committed_model_s_name():
    from digitnet.training.arguments import model_path

    assert model_path("c2") == ROOT / "weights" / "c2.json"
    assert model_path("elsewhere/c2.json") == Path("elsewhere/c2.json")
    assert model_path("no-such-model") == Path("no-such-model")  # then refused by load_model, naming it


def test_a_model_s_name_finds_the_installed_copy_outside_a_clone(tmp_path, monkeypatch):
    from digitnet.training import arguments

    installed = tmp_path / "models"
    installed.mkdir()
    (installed / "cnn-pen.json").write_text("{}")
    monkeypatch.setattr(arguments, "WEIGHTS", tmp_path / "weights")  # no weights folder here
    monkeypatch.setattr(arguments, "INSTALLED", installed)
    assert arguments.model_path("cnn-pen") == installed / "cnn-pen.json"
    assert arguments.model_path("c2") == Path("c2")


def test_errors_a_person_can_fix_are_one_line_and_faults_keep_their_traceback(monkeypatch, capsys):
    from digitnet.errors import DigitnetError, InputError
    from digitnet.training import cli, cli_models

    def run_with(error):
        def fails(args):
            raise error

        monkeypatch.setattr(cli_models, "run_info", fails)
        return cli.main(["info", "weights/c1.json"])

    assert run_with(InputError("adapting needs at least 10 labelled drawings; there are 3")) == 2
    assert capsys.readouterr().err == "digitnet: error: adapting needs at least 10 labelled drawings; there are 3\n"
    assert issubclass(InputError, DigitnetError) and issubclass(InputError, ValueError)
    with pytest.raises(ValueError, match="operands could not be broadcast"):  # a fault of ours: not one line
        run_with(ValueError("operands could not be broadcast together"))
