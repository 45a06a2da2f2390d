"""A mini-batch backpropagated in parts (``backprop(parts=…)``), one after the other or in threads."""

import copy
import warnings

import numpy as np
import pytest

from digitnet.backprop import backprop, one_hot
from digitnet.costs import cost_named
from digitnet.network import Network
from digitnet.training.initialisation import build_network
from digitnet.training.parallel import available_cores, cpu_quota, part_runner

COST = cost_named("log-likelihood")
BATCHNORM_CNN = (
    ("reshape", 28, 28, 1),
    ("conv2d", 4, 5, 0),
    ("batchnorm",),
    ("relu",),
    ("maxpool", 2),
    ("reshape", -1),
    ("dense", 16),
    ("batchnorm",),
    ("relu",),
    ("dropout", 0.3),
    ("dense", 10),
    ("softmax",),
)
PLAIN_CNN = tuple(spec for spec in BATCHNORM_CNN if spec[0] not in ("batchnorm", "dropout"))


def network_and_batch(architecture, n: int = 13) -> tuple[Network, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    network = build_network(architecture, "log-likelihood", "he", rng)
    for layer in network.layers:  # float64, so that two ways of summing agree to ~1e-15
        for name, value in layer.params().items():
            setattr(layer, name, value.astype(np.float64))
    x = rng.random((n, 784))
    return network, x, one_hot(rng.integers(0, 10, n), dtype=np.float64)


def running_statistics(network: Network) -> list[np.ndarray]:
    return [value for layer in network.layers if layer.kind == "batchnorm" for value in (layer.mean, layer.variance)]


def test_without_batchnorm_the_parts_sum_to_the_whole_batch():
    network, x, y = network_and_batch(PLAIN_CNN)
    whole = backprop(network, COST, x, y, scale=0.1)
    for parts in (2, 3, 13, 20):  # 20 parts of 13 images: the empty ones are skipped
        in_parts = backprop(network, COST, x, y, scale=0.1, parts=parts)
        for a, b in zip(whole, in_parts, strict=True):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_allclose(b[key], a[key], rtol=1e-10, atol=1e-13)


def test_batchnorm_takes_each_parts_own_statistics_and_tracks_them_in_order():
    network, x, y = network_and_batch(BATCHNORM_CNN)
    by_hand = copy.deepcopy(network)
    in_parts = backprop(network, COST, x, y, scale=0.5, parts=2)
    first = backprop(by_hand, COST, x[:6], y[:6], scale=0.5)
    second = backprop(by_hand, COST, x[6:], y[6:], scale=0.5)
    for got, a, b in zip(in_parts, first, second, strict=True):
        for key in got:
            np.testing.assert_array_equal(got[key], a[key] + b[key])
    for got, expected in zip(running_statistics(network), running_statistics(by_hand), strict=True):
        np.testing.assert_array_equal(got, expected)
    whole = backprop(copy.deepcopy(network), COST, x, y, scale=0.5)
    assert not np.allclose(whole[2]["gamma"], in_parts[2]["gamma"])  # not the whole batch's statistics


@pytest.mark.parametrize("cores", [1, 2])
def test_threads_compute_what_one_thread_computes(cores):
    """With dropout drawing each part's masks from its own generator, seeded from the caller's."""
    network, x, y = network_and_batch(BATCHNORM_CNN, n=64)
    alone = copy.deepcopy(network)
    with part_runner(2, cores=cores) as run:
        assert (run is map) == (cores == 1)
        threaded = backprop(network, COST, x, y, 1 / 64, np.random.default_rng(9), parts=2, run=run)
    plain = backprop(alone, COST, x, y, 1 / 64, np.random.default_rng(9), parts=2)
    for a, b in zip(threaded, plain, strict=True):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-10, atol=1e-13)
    for got, expected in zip(running_statistics(network), running_statistics(alone), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    other_masks = backprop(copy.deepcopy(alone), COST, x, y, 1 / 64, np.random.default_rng(10), parts=2)
    assert not np.allclose(other_masks[-2]["weight"], plain[-2]["weight"])  # the masks follow the seed


def test_each_part_draws_its_own_dropout_masks(monkeypatch):
    network, x, y = network_and_batch(BATCHNORM_CNN, n=8)
    x[4:] = x[:4]  # the two halves alike: only their masks can tell them apart
    masks = []
    dropout = next(layer for layer in network.layers if layer.kind == "dropout")
    real = type(dropout).train_forward

    def recording(self, inputs, rng):
        out, mask = real(self, inputs, rng)
        masks.append(mask)
        return out, mask

    monkeypatch.setattr(type(dropout), "train_forward", recording)
    backprop(network, COST, x, y, rng=np.random.default_rng(1), parts=2)
    assert len(masks) == 2 and masks[0].shape == masks[1].shape == (4, 16)
    assert not np.array_equal(masks[0], masks[1])


def test_parts_of_fewer_than_two_images_are_not_made():
    """Batch normalisation of one image has no variance to measure: a batch of 3 stays whole."""
    network, x, y = network_and_batch(BATCHNORM_CNN, n=3)
    whole = backprop(copy.deepcopy(network), COST, x, y)
    for parts in (2, 3, 0):
        split = backprop(copy.deepcopy(network), COST, x, y, parts=parts)
        for a, b in zip(whole, split, strict=True):
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_the_threads_keep_the_callers_floating_point_settings():
    network, x, y = network_and_batch(PLAIN_CNN, n=8)
    dense = next(layer for layer in network.layers if layer.kind == "dense")
    dense.weight *= 1e300  # outputs overflow
    with part_runner(2, cores=2) as run:
        with np.errstate(all="raise"), pytest.raises(FloatingPointError):
            backprop(network, COST, x, y, parts=2, run=run)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            backprop(network, COST, x, y, parts=2, run=run)  # silent, as the caller asked


def test_a_containers_cpu_quota_caps_the_cores(tmp_path):
    v2, quota, period = tmp_path / "cpu.max", tmp_path / "cfs_quota_us", tmp_path / "cfs_period_us"
    absent = (tmp_path / "none", tmp_path / "none")
    allowed = available_cores(tmp_path / "none", absent)  # no quota to be read: the affinity alone
    v2.write_text("max 100000\n")
    assert cpu_quota(v2, absent) is None and available_cores(v2, absent) == allowed
    v2.write_text("150000 100000\n")  # one and a half cores: one thread
    assert cpu_quota(v2, absent) == 1.5 and available_cores(v2, absent) == 1
    v2.write_text("5000 100000\n")  # a twentieth of a core still runs one thread
    assert available_cores(v2, absent) == 1
    quota.write_text("-1\n")
    period.write_text("100000\n")
    assert cpu_quota(tmp_path / "none", (quota, period)) is None
    quota.write_text("200000\n")
    assert available_cores(tmp_path / "none", (quota, period)) == min(2, allowed)
    v2.write_text("garbage\n")
    assert cpu_quota(v2, absent) is None  # unreadable: no quota rather than a traceback
