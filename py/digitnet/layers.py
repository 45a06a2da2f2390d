"""Layers of a feed-forward network: the forward pass only (inference).

Every layer maps a mini-batch ``x`` of shape ``(n, ...)`` to ``y`` of shape
``(n, ...)``: one sample per row, so a whole batch is one matrix product.
Backward passes live with the training code (``digitnet.training.backprop``).
"""

from __future__ import annotations

import numpy as np


class Dense:
    """Fully connected layer: ``z = x · Wᵀ + b``.

    Shapes: ``x (n, n_in)``, ``W (n_out, n_in)`` (Nielsen's orientation: row j
    holds the weights into neuron j), ``b (n_out,)``, ``z (n, n_out)``.
    """

    kind = "dense"

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self.weight = weight
        self.bias = bias

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    def params(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weight.T
        z += self.bias
        return z


class Sigmoid:
    """Logistic activation: ``σ(z) = 1 / (1 + e^(−z))``, elementwise, any shape."""

    kind = "sigmoid"

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z)


class ReLU:
    """Rectified linear activation: ``max(0, z)``, elementwise, any shape."""

    kind = "relu"

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0)


class Softmax:
    """Softmax over each row: ``a_j = e^(z_j) / Σ_k e^(z_k)``; ``z, a (n, k)``."""

    kind = "softmax"

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e


class Conv2D:
    """2-D convolution (cross-correlation) over images in NHWC layout.

    ``x (n, h, w, c)``, ``W (f, c, k, k)``, ``b (f,)`` → ``z (n, h', w', f)`` with
    ``h' = (h + 2·padding − k) // stride + 1``; each output is ``Σ W[f] ⊙ patch + b[f]``.
    Computed as one matrix product: the patches laid out as rows (im2col).
    """

    kind = "conv2d"

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0) -> None:
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding

    def params(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}

    def config(self) -> dict[str, int]:
        filters, channels, size, _ = self.weight.shape
        return {"filters": filters, "channels": channels, "size": size, "stride": self.stride, "padding": self.padding}

    def forward(self, x: np.ndarray) -> np.ndarray:
        columns, (n, oh, ow) = im2col(x, self.weight.shape[2], self.stride, self.padding)
        z = columns @ self.weight.reshape(len(self.weight), -1).T
        z += self.bias
        return z.reshape(n, oh, ow, -1)


class MaxPool:
    """Maximum over non-overlapping ``size × size`` windows: ``x (n, h, w, c)`` → ``(n, h//size, w//size, c)``.

    Rows and columns beyond a whole number of windows are dropped.
    """

    kind = "maxpool"

    def __init__(self, size: int = 2) -> None:
        self.size = size

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def config(self) -> dict[str, int]:
        return {"size": self.size}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return windows(x, self.size).max(axis=(2, 4))


class Reshape:
    """``x (n, ...)`` → ``(n, *shape)``: pixels to an image ``(28, 28, 1)``, or a feature map to a vector ``(-1,)``."""

    kind = "reshape"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def config(self) -> dict[str, list[int]]:
        return {"shape": list(self.shape)}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), *self.shape)


class Dropout:
    """Drops each input with probability ``rate`` while training; the identity at inference
    (inverted dropout: training scales the kept inputs by ``1 / (1 − rate)``)."""

    kind = "dropout"

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def config(self) -> dict[str, float]:
        return {"rate": self.rate}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x


class BatchNorm:
    """Batch normalisation (Ioffe & Szegedy 2015) at inference, per feature (the last axis):
    ``y = γ (x − μ) / √(σ² + ε) + β``.

    ``x, y (n, ..., f)``; ``γ, β, μ, σ² (f,)``, ``μ`` and ``σ²`` being the running
    averages of the mini-batch statistics seen in training (``statistics``: not
    trained by gradient descent).
    """

    kind = "batchnorm"
    statistics = ("mean", "variance")

    def __init__(
        self, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, variance: np.ndarray, epsilon: float = 1e-5
    ) -> None:
        self.gamma = gamma
        self.beta = beta
        self.mean = mean
        self.variance = variance
        self.epsilon = epsilon

    @property
    def features(self) -> int:
        return len(self.gamma)

    def params(self) -> dict[str, np.ndarray]:
        return {"gamma": self.gamma, "beta": self.beta, "mean": self.mean, "variance": self.variance}

    def config(self) -> dict[str, int | float]:
        return {"features": self.features, "epsilon": self.epsilon}

    def forward(self, x: np.ndarray) -> np.ndarray:
        scale = self.gamma / np.sqrt(self.variance + self.epsilon)
        y = x * scale
        y += self.beta - self.mean * scale
        return y


class PatchFeatures:
    """The original Rust-NN's "conv" inputs: kernels applied to disjoint patches, put in front of the pixels.

    ``x (n, 784)`` is cut into 7×7 disjoint 4×4 patches ``P (n, 49, 16)``; with
    ``K (k, 4, 4)`` the features are ``P·Kᵀ``, kernel by kernel, so the output is
    ``[features (k·49), x (784)]``, ``(n, 784 + 49k)``. No activation. ``learned``
    says whether training changes the kernels.
    """

    kind = "patch-features"
    side = 28

    def __init__(self, kernels: np.ndarray, learned: bool = False) -> None:
        self.kernels = kernels
        self.learned = learned

    @property
    def n_out(self) -> int:
        k, size, _ = self.kernels.shape
        return self.side * self.side + k * (self.side // size) ** 2

    def params(self) -> dict[str, np.ndarray]:
        return {"kernels": self.kernels}

    def config(self) -> dict[str, int | bool]:
        return {"filters": len(self.kernels), "patch": self.kernels.shape[1], "learned": self.learned}

    def patches(self, x: np.ndarray) -> np.ndarray:
        """``x (n, 784)`` → ``P (n, m², size²)``, patches in row-major order, pixels row-major inside."""
        size = self.kernels.shape[1]
        m = self.side // size
        return x.reshape(len(x), m, size, m, size).transpose(0, 1, 3, 2, 4).reshape(len(x), m * m, size * size)

    def forward(self, x: np.ndarray) -> np.ndarray:
        features = self.patches(x) @ self.kernels.reshape(len(self.kernels), -1).T
        return np.concatenate([features.transpose(0, 2, 1).reshape(len(x), -1), x], axis=1)


Layer = Dense | Sigmoid | ReLU | Softmax | Conv2D | MaxPool | Reshape | Dropout | BatchNorm | PatchFeatures

ACTIVATIONS: dict[str, type] = {"sigmoid": Sigmoid, "relu": ReLU, "softmax": Softmax}


def im2col(x: np.ndarray, size: int, stride: int, padding: int) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Every ``size × size`` patch of ``x (n, h, w, c)`` as a row ``(c, ky, kx)``-ordered.

    Returns ``columns (n·h'·w', c·size²)`` and ``(n, h', w')``.
    """
    if padding:
        x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    patches = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    n, oh, ow = patches.shape[:3]
    return patches.reshape(n * oh * ow, -1), (n, oh, ow)


def windows(x: np.ndarray, size: int) -> np.ndarray:
    """``x (n, h, w, c)`` cropped to whole windows and viewed as ``(n, h//size, size, w//size, size, c)``."""
    n, h, w, c = x.shape
    h, w = h - h % size, w - w % size
    return x[:, :h, :w].reshape(n, h // size, size, w // size, size, c)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1 / (1 + e^(−z))`` computed in one new array.

    ``e^(−z)`` overflows to ``inf`` for ``z ≪ 0``, which gives the correct limit
    ``σ = 0``: callers run it under ``np.errstate(over="ignore")`` for that reason.
    """
    a = np.negative(z)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a
