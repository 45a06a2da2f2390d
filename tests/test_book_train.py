"""The book, live: the Train panel trains c1 and c2 from scratch, in the page and in CPython alike.

In CPython: the set-ups are the recipes, the shipped subset is the recipes' split, a run is training's
own ``sgd_epoch`` step for step, settings out of bounds and altered data are refused in one sentence,
``digitnet book-train`` gives the same network. In headless Chromium: the first visit loads nothing of
the panel; a one-epoch run gives CPython's weights (≤ 1e-6, float64); pause, resume and stop; a
two-epoch c1 run climbs and reads drawn digits, is downloaded, survives a reload, and training works
offline after the first use; a corrupt data file is refused by its sha256.
"""

import dataclasses
import json
import re
import shutil
import time

import numpy as np
import pytest

from digitnet import load_model
from digitnet.backprop import sgd_epoch
from digitnet.book import (
    BOOK_DATA_FILE,
    CHOICES,
    LIMITS,
    SETUPS,
    BookDataError,
    BookRun,
    SettingsError,
    as_float,
    book_settings,
    read_book_data,
    widened,
)
from digitnet.training.book import book_data_bytes
from digitnet.training.cli import main as digitnet_main
from digitnet.training.recipes import C1, C2
from digitnet.training.replay import archive_bytes
from digitnet.training.tracing import trace_digit
from digitnet.training.train import initial_network, make_optimiser
from digitnet.web.serve import start_server, url_of
from digitnet.web.site import BOOK_DATA, TRAIN_PANEL_FILES

from .conftest import ROOT
from .webpage import draw, pad_size, shown_prediction, wait_ready, wait_until

DATA = ROOT / "weights" / BOOK_DATA_FILE
TRAIN_STATE = "document.body.dataset.train"


@pytest.fixture(scope="module")
def book_data():
    return read_book_data(DATA.read_bytes())


def trained(book_data, setup: str, values: dict, epochs: int) -> BookRun:
    run = BookRun(book_settings(setup, {**values, "epochs": epochs}), book_data)
    while not run.finished:
        run.train_epoch()
    return run


# ---------------------------------------------------------------- CPython


def test_set_ups_are_the_recipes():
    for recipe in (C1, C2):
        setup = SETUPS[recipe.name]
        assert setup.sizes == list(recipe.sizes) and recipe.hidden == recipe.output == "sigmoid"
        for name in ("cost", "init", "eta", "l2", "batch_size", "epochs", "seed"):
            assert getattr(setup, name) == getattr(recipe, name), name
        assert setup.description.startswith(recipe.description[:13])  # "Nielsen ch. 1" or "ch. 3"


def test_subset_is_the_recipes_split_and_reproducible(data_dir, mnist_data, book_data):
    assert DATA.read_bytes() == book_data_bytes(data_dir)  # the committed file is what book-data writes
    assert book_data.sizes() == {"train": 10_000, "validation": 2_000}
    assert np.array_equal(as_float(book_data.train_images), mnist_data.train.images[:10_000])
    assert np.array_equal(book_data.train_labels, mnist_data.train.labels[:10_000])
    assert np.array_equal(as_float(book_data.validation_images), mnist_data.validation.images[:2_000])
    assert np.array_equal(book_data.validation_labels, mnist_data.validation.labels[:2_000])
    assert DATA.stat().st_size < 2_500_000


C1_CH3 = dataclasses.replace(C1, init="default")  # c1 with ch. 3's weights, one of the panel's choices


@pytest.mark.parametrize("recipe", [C1, C2, C1_CH3], ids=["c1", "c2", "c1-ch3-weights"])
def test_a_run_is_trainings_own_sgd_epoch(book_data, recipe):
    """Stopping after any mini-batch changes nothing: two epochs in chunks of 7 steps are bit for bit
    two calls of ``sgd_epoch`` on the network ``digitnet train`` starts the recipe from."""
    values = {"train_size": 1_000, "epochs": 2, "cost": recipe.cost, "init": recipe.init}
    run = BookRun(book_settings(recipe.name, values), book_data)
    rng = np.random.default_rng(recipe.seed)
    network = widened(initial_network(recipe, rng))
    assert np.array_equal(run.parameters(), np.concatenate([p.ravel() for p in params(network)]))
    optimiser = make_optimiser(recipe, 1_000)
    while not run.finished:
        run.advance(7)
    for _ in range(2):
        sgd_epoch(network, run.cost, run.images, run.targets, recipe.batch_size, optimiser, rng)
    assert np.array_equal(run.parameters(), np.concatenate([p.ravel() for p in params(network)]))
    assert [h["epoch"] for h in run.history] == [1, 2] and run.epoch == 2 and run.batches_done == 0


def params(network) -> list[np.ndarray]:
    return [p for layer in network.layers for p in layer.params().values()]


def test_settings_out_of_bounds_are_refused_in_one_sentence(book_data):
    refused = {
        ("c1", "hidden", 500): "the number of hidden neurons must be a whole number from 1 to 200, not 500",
        ("c1", "hidden", "2.5"): "the number of hidden neurons must be a whole number from 1 to 200, not 2.5",
        ("c1", "eta", "fast"): "the learning rate η must be a number from 0.001 to 100, not 'fast'",
        ("c2", "eta", 0): "the learning rate η must be a number from 0.001 to 100, not 0",
        ("c2", "l2", "-1"): "the L2 parameter λ must be a number from 0 to 100, not -1",
        ("c1", "batch_size", ""): "the mini-batch size must be a whole number from 1 to 1,000, not nothing",
        ("c1", "epochs", "nan"): "the number of epochs must be a whole number from 1 to 100, not nan",
        ("c1", "train_size", 5): "the number of training images must be a whole number from 10 to 10,000, not 5",
        ("c1", "seed", 2**32): "the seed must be a whole number from 0 to 4,294,967,295, not 4294967296",
        ("c1", "init", "he"): "the weight initialisation must be large (N(0, 1)) or default (N(0, 1/n_in)), not 'he'",
        ("c2", "cost", 1): "the cost must be quadratic or cross-entropy, not 1",
        ("c1", "rate", 1): "'rate' is not a setting (the settings are hidden, eta, l2, batch_size, epochs, "
        "train_size, seed, cost, init)",
        ("c3", "eta", 1): "there is no set-up 'c3': the book's are c1 and c2",
    }
    for (setup, name, value), message in refused.items():
        with pytest.raises(SettingsError) as caught:
            book_settings(setup, {name: value})
        assert str(caught.value) == message
    assert book_settings("c2", {"hidden": "100", "eta": " 0.1 ", "seed": 7.0}) == dataclasses.replace(
        SETUPS["c2"], hidden=100, eta=0.1, seed=7
    )
    changed = book_settings("c1", {"init": "default", "cost": "quadratic"})
    assert changed == dataclasses.replace(SETUPS["c1"], init="default")
    assert changed.described() == f"{SETUPS['c1'].description}; here with N(0, 1/n_in) weights"
    assert book_settings("c2", {"cost": "quadratic"}).described().endswith("; here with the quadratic cost")
    assert book_settings("c2", {"hidden": 50}).described() == SETUPS["c2"].description
    small = dataclasses.replace(
        book_data, train_images=book_data.train_images[:50], train_labels=book_data.train_labels[:50]
    )
    with pytest.raises(SettingsError, match=r"from 10 to 50 \(the images there are\), not 100$"):
        BookRun(book_settings("c1", {"train_size": 100}), small)


def test_altered_or_foreign_data_is_refused(book_data):
    data = bytearray(DATA.read_bytes())
    data[len(data) // 2] ^= 1
    with pytest.raises(BookDataError, match=r"^the MNIST subset's sha256 is \w+…, not the \w+… the site lists: "):
        read_book_data(bytes(data), book_data.sha256)
    with pytest.raises(BookDataError, match="is not an archive of train_images, train_labels"):
        read_book_data(bytes(data[:1000]))
    arrays = {
        "train_images": book_data.train_images[:10].astype(np.float32),
        "train_labels": book_data.train_labels[:10],
        "validation_images": book_data.validation_images[:10],
        "validation_labels": book_data.validation_labels[:10],
    }
    with pytest.raises(BookDataError, match="train arrays must be uint8, not float32/uint8"):
        read_book_data(archive_bytes(arrays))
    arrays["train_images"] = book_data.train_images[:10]
    arrays["validation_labels"] = arrays["validation_labels"] + 10
    with pytest.raises(BookDataError, match="validation labels must be digits 0–9, not 1"):
        read_book_data(archive_bytes(arrays))


def test_book_train_command_gives_the_same_network(tmp_path, book_data, capsys):
    out = tmp_path / "c2.json"
    argv = ["book-train", "--setup", "c2", "--epochs", "2", "--train-size", "500", "--hidden", "12", "--seed", "3"]
    assert digitnet_main([*argv, "--init", "large", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cross-entropy cost, N(0, 1) weights" in printed
    run = trained(book_data, "c2", {"train_size": 500, "hidden": 12, "seed": 3, "init": "large"}, 2)
    assert f"epoch 2: training cost {run.history[1]['training_cost']:.4f}" in printed
    model = load_model(out)
    assert np.max(np.abs(np.concatenate([p.ravel() for p in params(model)]) - run.parameters())) <= 1e-6
    assert model.metadata["settings"] == run.settings.as_dict() and model.metadata["epochs"] == 2
    assert digitnet_main(["book-train", "--hidden", "0", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "digitnet: error: the number of hidden neurons must be a whole number from 1 to 200, not 0\n"
    )


# ---------------------------------------------------------------- in the page


def open_panel(page) -> None:
    page.click("#train summary")
    wait_until(page, f"['idle', 'done', 'stopped', 'error'].includes({TRAIN_STATE})", 30)


def train(page, values: dict, until: str = "['done', 'stopped', 'error']", timeout: float = 120) -> str:
    """Fill the form with ``values``, press Train and wait for one of the states ``until``; the status."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    for name, value in values.items():
        if name in CHOICES:
            page.select_option(f"#train-form select[name={name}]", value)
        else:
            page.fill(f"#train-form input[name={name}]", str(value))
    page.click("#train-start")
    wait_until(page, f"{TRAIN_STATE} !== 'idle' && {until}.includes({TRAIN_STATE})", timeout)
    return page.text_content("#train-status")


def history(page) -> list[dict]:
    return json.loads(page.get_attribute("#train-plot", "data-history"))


def page_parameters(page) -> np.ndarray:
    return np.array(page.evaluate("window.digitnetTrain.parameters()"))


def progress(page) -> float:
    return page.evaluate("document.getElementById('train-progress').value")


def draw_digit(page, image: np.ndarray) -> str:
    page.evaluate("window.scrollTo(0, 0)")
    page.click("#clear")
    size = pad_size(page)
    strokes = [p / 28 * 0.5 * size + 0.2 * size for p in trace_digit(image)]
    draw(page, strokes)
    return shown_prediction(page, len(strokes), 30)[0]


def test_train_in_the_page(browser, site, tmp_path, book_data, mnist_data):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))  # the page's and its workers' (not the SW's)
    page.on("pageerror", lambda error: errors.append(str(error)))
    server = start_server(shutil.copytree(site, tmp_path / "site"), 0)
    try:
        page.goto(url_of(server))
        wait_ready(page)
        wait_until(page, "document.body.dataset.offline === 'ready' && !!navigator.serviceWorker.controller", 60)
        # the first visit: nothing of the panel but its hook, and the data is not among the precached files
        assert not [u for u in requests if any(name in u for name in (*TRAIN_PANEL_FILES, BOOK_DATA_FILE))]
        precached = json.loads(re.search(r"const FILES = (\[.*?\]);", (site / "sw.js").read_text()).group(1))
        assert f"./{BOOK_DATA}" not in precached and "./train-panel.js" in precached

        open_panel(page)
        form = page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('#train-form input')].map(
                 (i) => [i.name, [Number(i.min), Number(i.max), Number(i.value)]]))"""
        )
        c1 = SETUPS["c1"]
        assert form == {name: [limit.low, limit.high, getattr(c1, name)] for name, limit in LIMITS.items()}
        choices = page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('#train-form select:not(#train-setup)')].map(
                 (s) => [s.name, [s.value, [...s.options].map((o) => o.value)]]))"""
        )
        assert choices == {name: [getattr(c1, name), list(choice.options)] for name, choice in CHOICES.items()}
        for setup in ("c2", "c1"):  # choosing a set-up sets its η, λ, cost and weights
            page.select_option("#train-setup", setup)
            shown = page.evaluate(
                "() => ['eta', 'l2', 'cost', 'init'].map((n) => document.forms['train-form'].elements[n].value)"
            )
            chosen = SETUPS[setup]
            assert [float(shown[0]), float(shown[1]), *shown[2:]] == [chosen.eta, chosen.l2, chosen.cost, chosen.init]

        page.set_viewport_size({"width": 390, "height": 844})  # on a phone the form fits the screen
        assert page.evaluate("document.documentElement.scrollWidth") == 390
        page.set_viewport_size({"width": 1200, "height": 900})

        # out of bounds: one sentence, nothing trained
        status = train(page, {"hidden": 500})
        assert page.evaluate(TRAIN_STATE) == "error"
        assert status == "Could not train: the number of hidden neurons must be a whole number from 1 to 200, not 500."
        assert sum(BOOK_DATA_FILE in u for u in requests) == 1  # fetched at the first use, checked, kept

        # parity: one epoch of c1 on the 10,000 images gives CPython's weights
        started = time.perf_counter()
        status = train(page, {"hidden": 30, "epochs": 1})
        assert page.evaluate(TRAIN_STATE) == "done", status
        seconds = time.perf_counter() - started
        run = trained(book_data, "c1", {}, 1)
        difference = np.max(np.abs(page_parameters(page) - run.parameters()))
        assert difference <= 1e-6, difference
        (shown,) = history(page)
        assert shown["validation_correct"] == run.history[0]["validation_correct"]
        assert shown["training_cost"] == pytest.approx(run.history[0]["training_cost"], rel=1e-9)
        print(f"one c1 epoch in the page: {seconds:.1f} s click to done; weights within {difference:.1e} of CPython")

        # the weights' initialisation chosen in the form is the one Python draws from
        status = train(page, {"epochs": 1, "train_size": 500, "init": "default"})
        assert page.evaluate(TRAIN_STATE) == "done", status
        run = trained(book_data, "c1", {"train_size": 500, "init": "default"}, 1)
        assert np.max(np.abs(page_parameters(page) - run.parameters())) <= 1e-6
        page.select_option("#train-form select[name=init]", "large")
        page.fill("#train-form input[name=train_size]", "10000")

        # pause, resume, stop; the recogniser answers meanwhile
        train(page, {"epochs": 30}, "['running', 'done']")
        wait_until(page, "document.getElementById('train-progress').value > 0", 30)
        assert draw_digit(page, mnist_data.test.images[0]) in "0123456789"  # answered while training
        page.click("#train-pause")
        wait_until(
            page,
            f"{TRAIN_STATE} === 'paused' && document.getElementById('train-status')"
            ".textContent.startsWith('Paused at')",
            30,
        )
        held = progress(page)
        time.sleep(1.0)
        assert progress(page) == held and page.evaluate(TRAIN_STATE) == "paused"
        page.click("#train-pause")  # Resume
        wait_until(page, f"document.getElementById('train-progress').value > {held}", 30)
        page.click("#train-stop")
        wait_until(page, f"['stopped', 'error'].includes({TRAIN_STATE})", 60)
        status = page.text_content("#train-status")
        assert re.match(r"Stopped at epoch \d+ of 30, mini-batch [\d,]+ of 1,000: validation ", status), status
        assert progress(page) < 0.5

        # two epochs of c1: the validation accuracy climbs, and the network reads drawn digits
        status = train(page, {"epochs": 2})
        assert page.evaluate(TRAIN_STATE) == "done", status
        figures = history(page)
        assert [h["epoch"] for h in figures] == [1, 2]
        assert figures[1]["validation_accuracy"] > figures[0]["validation_accuracy"] + 5
        assert status.endswith("Now drawing with c1 · trained here.")
        assert page.input_value("#model") == "trained:c1"
        wait_ready(page)
        assert "c1 · trained here" in page.text_content("#status")
        test = mnist_data.test
        for index in (3, 0):  # the test set's first 0 and first 7
            assert draw_digit(page, test.images[index]) == str(test.labels[index])
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        with page.expect_download() as download:
            page.click("#train-download")
        model = load_model(download.value.path())
        assert model.metadata["epochs"] == 2 and model.metadata["recipe"] == "c1"
        assert np.max(np.abs(np.concatenate([p.ravel() for p in params(model)]) - page_parameters(page))) <= 1e-6
        x = test.images[:200]
        outputs = np.array(page.evaluate("(x) => window.digitnet.feedforward(x)", x.ravel().tolist()))
        assert np.max(np.abs(outputs.reshape(-1, 10) - model.feedforward(x))) <= 1e-5

        # a reload keeps the trained model, in use
        page.reload()
        wait_ready(page)
        wait_until(page, "document.getElementById('model').value === 'trained:c1'", 30)
        wait_ready(page)
        outputs = np.array(page.evaluate("(x) => window.digitnet.feedforward(x)", x.ravel().tolist()))
        assert np.max(np.abs(outputs.reshape(-1, 10) - model.feedforward(x))) <= 1e-5
    finally:
        server.shutdown()
        server.server_close()

    # offline after the first use: the page, the panel and its data come from the service worker's cache
    page.reload()
    wait_ready(page)
    open_panel(page)
    wait_until(page, "!document.getElementById('train-actions').hidden", 30)  # the kept c1, after a reload
    status = train(page, {"epochs": 1, "train_size": 1_000})
    assert page.evaluate(TRAIN_STATE) == "done", status
    assert len(history(page)) == 1
    page.click("#train-delete")
    wait_until(page, "document.getElementById('model').value !== 'trained:c1'", 30)
    assert page.eval_on_selector_all("#model option", "o => o.filter(x => x.value.startsWith('trained:')).length") == 0
    assert errors == []
    context.close()


def test_corrupt_data_is_refused_by_its_checksum(browser, site, tmp_path):
    copy = shutil.copytree(site, tmp_path / "site")
    data = bytearray((copy / BOOK_DATA).read_bytes())
    data[1000] ^= 0xFF
    (copy / BOOK_DATA).write_bytes(bytes(data))
    context = browser.new_context(service_workers="block", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    server = start_server(copy, 0)
    try:
        page.goto(url_of(server))
        wait_ready(page)
        open_panel(page)
        status = train(page, {"epochs": 1})
        assert page.evaluate(TRAIN_STATE) == "error"
        assert re.fullmatch(
            r"Could not train: the MNIST subset's sha256 is \w{16}…, not the \w{16}… the site lists: "
            r"the file is corrupt or altered, reload the page to fetch it again\.",
            status,
        ), status
        assert page.input_value("#model") != "trained:c1"
    finally:
        server.shutdown()
        server.server_close()
        context.close()
