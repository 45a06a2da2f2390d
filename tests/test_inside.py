"""The Inside view's numbers: panels, first-layer units and saliency, in CPython and in the page."""

import gzip

import numpy as np
import pytest

from digitnet import load_model, parse_model
from digitnet.backprop import inference_forward
from digitnet.inside import look_inside, panels, score_layer, unit_images, unit_layer
from digitnet.kernels import sparse_product
from digitnet.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    MaxPool,
    PatchFeatures,
    ReLU,
    Reshape,
    Sigmoid,
    Softmax,
)
from digitnet.training.paths import model_files
from digitnet.training.tracing import trace_digit

from .conftest import ROOT
from .test_gradients import EPS
from .webpage import draw, pad_size, shown_prediction, wait_ready, wait_until

MODELS = sorted(model_files(ROOT / "weights"))


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def test_input_backward_equals_the_backward_pass_for_every_layer_kind(rng):
    """The input-only pass of the saliency map gives the same ∂C/∂x as the training backward pass."""
    cases = [
        (Dense(rng.standard_normal((5, 7)), rng.standard_normal(5)), (3, 7)),
        (Sigmoid(), (3, 7)),
        (ReLU(), (3, 7)),
        (Softmax(), (3, 7)),
        (Conv2D(rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4), stride=2, padding=1), (2, 7, 7, 2)),
        (MaxPool(2), (2, 7, 7, 2)),
        (Reshape((-1,)), (2, 4, 4, 2)),
        (Dropout(0.3), (3, 7)),
        (BatchNorm(rng.random(7) + 0.5, rng.standard_normal(7), rng.standard_normal(7), rng.random(7) + 0.1), (3, 7)),
        (PatchFeatures(rng.standard_normal((2, 4, 4)), learned=True), (2, 784)),
    ]
    for layer, shape in cases:
        x = rng.standard_normal(shape)
        y = layer.forward(x)
        g = rng.standard_normal(y.shape)
        assert np.allclose(layer.input_backward(x, y, g), layer.backward(x, y, g, None)[0], rtol=1e-12, atol=1e-12)

    # the sparse product the convolution's input-only pass uses, on a gradient with few non-zeros
    conv = Conv2D(rng.standard_normal((64, 32, 5, 5)), rng.standard_normal(64))
    x = rng.standard_normal((1, 12, 12, 32))
    y = conv.forward(x)
    g = rng.standard_normal(y.shape) * (rng.random(y.shape) < 0.1)
    assert np.allclose(conv.input_backward(x, y, g), conv.backward(x, y, g, None)[0], rtol=1e-12, atol=1e-12)


def test_sparse_product_equals_the_dense_product(rng):
    b = rng.standard_normal((64, 800))
    for density in (0.0, 0.05, 0.2, 0.6):
        a = rng.standard_normal((64, 64)) * (rng.random((64, 64)) < density)
        assert np.allclose(sparse_product(a, b), a @ b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_panels_show_every_layer_once_and_end_with_the_output(path, rng):
    network = load_model(path)
    x = rng.random(784)
    output, inside = look_inside(network, x)
    groups = panels(network)
    covered = [i for p in groups for i in range(p.first, p.last + 1)]
    assert covered == list(range(len(network.layers)))
    activations = inference_forward(network, x[None, :].astype(np.float64))
    for panel, shown in zip(groups, inside["panels"], strict=True):
        a = activations[panel.last + 1][0]
        assert shown["shape"] == list(a.shape)
        expected = a.transpose(2, 0, 1).ravel() if a.ndim == 3 else a  # one whole map after another
        assert shown["values"].dtype == np.float32
        assert np.allclose(shown["values"], expected, rtol=1e-6, atol=1e-7)
        assert shown["title"]
    assert np.array_equal(output, network.feedforward(x))
    assert np.allclose(inside["panels"][-1]["values"], output, atol=1e-7)
    assert inside["winner"] == int(np.argmax(output))


@pytest.mark.parametrize("name", ["c1", "c2_mod2", "cnn"])
def test_saliency_equals_finite_differences_on_committed_models(name, rng):
    """∂z_winner/∂x of ``look_inside`` against central differences of the winner's score (the output
    layer's weighted input), every pixel moved in one batch (for the cnn 200 random pixels, to stay
    quick); relative error ≤ 1e-4."""
    network = load_model(ROOT / "weights" / f"{name}.json")
    x = rng.random(784) * 0.5
    output, inside = look_inside(network, x)
    winner = int(np.argmax(output))
    score = score_layer(network)
    assert network.layers[score + 1].kind in ("sigmoid", "softmax")
    pixels = np.arange(784) if name != "cnn" else rng.choice(784, 200, replace=False)
    step = np.zeros((len(pixels), 784))
    step[np.arange(len(pixels)), pixels] = EPS

    def winner_scores(inputs):
        return inference_forward(network, inputs)[score + 1][:, winner]

    numeric = (winner_scores(x + step) - winner_scores(x - step)) / (2 * EPS)
    saliency = inside["saliency"].astype(np.float64)[pixels]
    assert np.max(np.abs(numeric)) > 0
    assert np.max(np.abs(saliency - numeric)) <= 1e-4 * np.max(np.abs(numeric))


def test_units_are_the_first_layers_weights_when_they_form_images():
    c1, cnn, c2_conv = (load_model(ROOT / "weights" / f"{n}.json") for n in ("c1", "cnn", "c2_conv"))
    units = unit_images(c1)
    assert (units["units"], units["side"], units["layer"], units["panel"]) == (30, 28, 0, 0)
    assert np.array_equal(units["weights"], c1.layers[0].weight.astype(np.float32).ravel())
    conv = unit_images(cnn)
    assert (conv["units"], conv["side"]) == (32, 5) and cnn.layers[conv["layer"]].kind == "conv2d"
    assert np.array_equal(conv["weights"].reshape(32, 5, 5), cnn.layers[conv["layer"]].weight[:, 0])
    assert unit_layer(c2_conv) is None and unit_images(c2_conv) is None  # its first layer adds features
    x = np.random.default_rng(1).random(784)
    _, inside = look_inside(cnn, x)
    maps = inference_forward(cnn, x[None, :])[4][0]  # conv → batch norm → ReLU
    assert np.allclose(inside["unit_activation"], maps.mean(axis=(0, 1)), atol=1e-6)
    assert "unit_activation" not in look_inside(c2_conv, x)[1]


def test_predict_strokes_with_inside_gives_the_same_answer():
    from digitnet import webapp

    webapp.load((ROOT / "weights" / "cnn.json").read_text(), "cnn.json")
    points = np.array([[100, 40], [100, 200], [100, 360], [60, 80], [100, 40]], dtype=np.float64)
    plain = webapp.predict_strokes(points.ravel(), [3, 2], 400)
    inside = webapp.predict_strokes(points.ravel(), [3, 2], 400, inside=True)
    assert "inside" not in plain
    assert {k: v for k, v in inside.items() if k != "inside"} == plain
    assert inside["inside"]["winner"] == plain["digit"]
    nothing = webapp.predict_strokes([10, 10], [1], 400, inside=True)  # a dot: no digit, nothing inside
    assert nothing["digit"] is None and "inside" not in nothing


# ---------------------------------------------------------------- in the browser


def new_page(browser, width: int, height: int):
    context = browser.new_context(service_workers="block", viewport={"width": width, "height": height})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return context, page


@pytest.fixture
def page(browser):
    context, page = new_page(browser, 1200, 900)
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    context, page = new_page(browser, 390, 844)
    yield page
    context.close()


def draw_digit(page, image: np.ndarray) -> int:
    """Draw a traced MNIST digit in the middle of the pad; return its stroke count."""
    page.evaluate("window.scrollTo(0, 0)")
    page.click("#clear")
    size = pad_size(page)
    strokes = [p / 28 * 0.6 * size + 0.2 * size for p in trace_digit(image)]
    draw(page, strokes)
    return len(strokes)


def shown_inside(page, strokes: int) -> dict:
    wait_until(page, f"document.getElementById('inside').dataset.strokes === '{strokes}'", 15)
    return page.evaluate("window.digitnet.inside()")


def assert_equals_cpython(network, shown: dict) -> None:
    """Float32 on the wire: each value within 1e-6 of CPython's float64, relative to the panel's
    largest magnitude (at least 1)."""
    expected = look_inside(network, np.array(shown["image"]))[1]
    assert shown["winner"] == expected["winner"]
    for got, want in zip(shown["panels"], expected["panels"], strict=True):
        assert got["title"] == want["title"] and got["shape"] == want["shape"]
        want = want["values"].astype(np.float64)
        assert np.max(np.abs(np.array(got["values"]) - want)) <= 1e-6 * max(1.0, np.max(np.abs(want)))
    saliency = expected["saliency"].astype(np.float64)
    assert np.max(np.abs(np.array(shown["saliency"]) - saliency)) <= 1e-6 * np.max(np.abs(saliency))


def page_model(site, name: str):
    """The network the page computes with: the file the site ships (int8 and float16), batch norm folded in."""
    return parse_model(gzip.decompress((site / "models" / f"{name}.gz").read_bytes()).decode(), name=name).folded()


def test_inside_view_opens_updates_with_the_drawing_and_equals_cpython(page, served, site, mnist_data):
    page.goto(served)
    wait_ready(page)
    seven, two = mnist_data.test.images[0], mnist_data.test.images[1]  # labels 7 and 2
    strokes = draw_digit(page, seven)
    assert shown_prediction(page, strokes)[0] == "7"
    assert page.evaluate("window.digitnet.inside()") is None  # closed: nothing computed
    page.click("#inside summary")
    first = shown_inside(page, strokes)  # opening computes it for the drawing already there
    cnn = page_model(site, "cnn-pen.json")  # the page's default
    assert first["winner"] == 7 and len(first["panels"]) == len(panels(cnn))
    assert_equals_cpython(cnn, first)
    assert page.evaluate("document.querySelectorAll('#inside .map').length") == 32 + 32 + 64 + 64
    assert page.evaluate("document.querySelectorAll('#inside .unit').length") == 32
    strokes = draw_digit(page, two)
    second = shown_inside(page, strokes)
    assert second["winner"] == 2 and second["image"] != first["image"]
    assert_equals_cpython(cnn, second)
    order = np.argsort(-np.array(second["unit_activation"]), kind="stable")
    assert np.array_equal(np.sort(second["unit_order"]), np.arange(32))
    assert np.all(np.diff(np.array(second["unit_activation"])[second["unit_order"]]) <= 0), order

    page.evaluate("window.scrollTo(0, 0)")
    page.select_option("#model", "c1.json")
    wait_ready(page)
    strokes = draw_digit(page, seven)
    shown = shown_inside(page, strokes)
    c1 = page_model(site, "c1.json")
    assert_equals_cpython(c1, shown)
    wait_until(page, "document.querySelectorAll('#inside .unit').length === 30", 10)
    hidden = look_inside(c1, np.array(shown["image"]))[1]["unit_activation"]
    wait_until(page, "window.digitnet.inside().unit_order !== null", 10)
    order = page.evaluate("window.digitnet.inside().unit_order")
    assert np.all(np.diff(hidden[order]) <= 1e-6)  # most active neuron first
    assert page.errors == []


def test_inside_view_fits_a_phone_screen(phone, served, mnist_data):
    phone.goto(served)
    wait_ready(phone)
    phone.click("#inside summary")
    strokes = draw_digit(phone, mnist_data.test.images[0])
    assert shown_inside(phone, strokes)["winner"] == 7
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    canvases = "[...document.querySelectorAll('#inside canvas')]"
    rights = phone.evaluate(f"{canvases}.map(c => c.getBoundingClientRect().right)")
    assert len(rights) > 32 and max(rights) <= 390
    assert phone.errors == []
