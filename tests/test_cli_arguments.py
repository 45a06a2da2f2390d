"""The command line refuses bad arguments in one sentence, says when it resumes, extends finished runs."""

import json
import sys

import pytest

from digitnet.training.cli import main

from .conftest import ROOT

MODEL = ROOT / "weights" / "c2-100.json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--recipe", "c2", "--limit", "0"],
            "argument --limit: 0 is out of range: expected a whole number of at least 1",
        ),
        (["train", "--recipe", "c2", "--limit", "-49990"], "argument --limit: -49990 is out of range"),
        (
            ["train", "--recipe", "c2", "--epochs", "0"],
            "argument --epochs: 0 is out of range: expected a whole number from 1 to 10,000",
        ),
        (
            ["train", "--recipe", "c2", "--epochs", "2.5"],
            "argument --epochs: '2.5' is not a whole number from 1 to 10,000",
        ),
        (["train", "--recipe", "c2", "--seed", "-1"], "argument --seed: -1 is out of range"),
        (
            ["sweep", "--recipe", "c2", "--seeds", "8-1"],
            "argument --seeds: '8-1': expected FIRST-LAST with FIRST ≤ LAST",
        ),
        (["sweep", "--recipe", "c2", "--seeds", "a-b"], "argument --seeds: 'a-b': 'a' is not a whole number"),
        (
            ["serve", "--port", "99999"],
            "argument --port: 99999 is out of range: expected a whole number from 0 to 65,535",
        ),
        (["serve", "--port", "http"], "argument --port: 'http' is not a whole number from 0 to 65,535"),
    ],
)
def test_numeric_arguments_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err


def test_port_in_use_is_one_sentence(tmp_path, capsys):
    import socket

    from .conftest import pyodide_source

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--out", str(tmp_path / "site"), "--port", str(port), "--pyodide-from", pyodide_source()])
    err = capsys.readouterr().err
    assert code == 2 and f"cannot serve on 127.0.0.1 port {port}: Address already in use" in err
    assert "--port" in err


def test_ctrl_c_ends_with_one_line(capsys, monkeypatch):
    from digitnet.training import cli_models

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_models, "run_info", interrupted)
    code = main(["info", "weights/c1.json"])
    err = capsys.readouterr().err
    assert code == 130 and err.strip() == "digitnet: interrupted"


def test_help_opens_with_what_the_command_does(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "build and serve the page" in out


def test_missing_extra_is_named_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyodide_lock", None)  # as in a plain `pip install .`
    code = main(["build-site", str(tmp_path / "site"), "--pyodide-from", str(tmp_path / "no-pyodide-here")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "site").exists()
    assert err.strip() == (
        "digitnet: error: this command needs the package pyodide_lock, which the plain install leaves out: "
        "pip install 'digitnet[web]'"
    )


def test_plain_install_has_what_predict_and_train_import():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("[")[0] for d in project["dependencies"]}
    assert {"numpy", "pillow", "tqdm"} <= names


def test_info_escapes_control_characters(tmp_path, capsys):
    model = json.loads(MODEL.read_text())
    model["metadata"]["description"] = "evil \x1b[2J\x1b]0;owned\x07 text\r\n\u202e"
    (tmp_path / "evil.json").write_text(json.dumps(model))
    assert main(["info", str(tmp_path / "evil.json")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\u202e" not in out
    assert r"description: evil \x1b[2J\x1b]0;owned\x07 text\r\n\u202e" in out


def test_resume_is_announced_and_a_finished_run_extends(data_dir, tmp_path, capsys):
    base = ["train", "--recipe", "c2", "--limit", "500", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    assert main([*base, "--epochs", "1"]) == 0
    assert (tmp_path / "c2.checkpoint.npz").exists()  # kept: it is what an extension starts from
    capsys.readouterr()
    assert main([*base, "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "resuming from epoch 1 of 2" in out and "epoch   2" in out and "epoch   1 " not in out
    history = json.loads((tmp_path / "c2.history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1, 2]
    assert json.loads((tmp_path / "c2.json").read_text())["metadata"]["epochs"] == 2
    before = (tmp_path / "c2.json").read_bytes()
    assert main([*base, "--epochs", "2"]) == 0
    assert "the run already has its 2 epochs" in capsys.readouterr().out
    assert (tmp_path / "c2.json").read_bytes() == before  # nothing retrained, nothing rewritten
    assert main([*base, "--epochs", "1"]) == 2
    assert "already holds 2 epochs, more than the 1 asked for" in capsys.readouterr().err


def test_the_scripts_take_what_is_unset_from_a_shared_folder_beside_the_clone(tmp_path):
    import subprocess

    names = ("DIGITNET_DATA", "DIGITNET_PYODIDE", "DIGITNET_WRITERS")
    script = "source scripts/shared.sh; " + "; ".join(f'echo "${n}"' for n in names)

    def exported(clone, **env):
        (clone / "scripts").mkdir(parents=True)
        (clone / "scripts" / "shared.sh").write_bytes((ROOT / "scripts" / "shared.sh").read_bytes())
        env = {"PATH": "/usr/bin:/bin", **env}
        done = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, check=True)
        return done.stdout.splitlines()

    for folder in ("data/mnist", "pyodide/v0.27.7", "data/pendigits"):
        (tmp_path / "beside" / "shared" / folder).mkdir(parents=True)
    shared = (tmp_path / "beside" / "shared").resolve()
    assert exported(tmp_path / "beside" / "clone", DIGITNET_PYODIDE="/set/by/hand") == [
        str(shared / "data/mnist"),
        "/set/by/hand",  # what is set stays
        str(shared / "data/pendigits"),
    ]
    assert exported(tmp_path / "alone" / "clone") == ["", "", ""]  # no ../shared: nothing is set
