"""Layers of a feed-forward network, each in one place: forward and backward pass,
output shape, parameters, model-file entry, how a recipe makes a fresh one and how the
Inside view names it.

Every layer maps a mini-batch ``x`` of shape ``(n, ...)`` to ``y`` of shape
``(n, ...)``: one sample per row, so a whole batch is one matrix product. Its
backward pass turns ``∂C/∂y`` into ``∂C/∂x`` and the gradients of its
parameters, for the whole batch at once. A new layer kind is one class here,
registered under its ``kind`` (``LAYERS``): the ``type`` of its model-file entry and
the name recipes' layer specs give it (``Layer.initial``). The array kernels the
layers compute with are in ``digitnet.kernels``; the checked reading of an entry in
``digitnet.entries``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np

from digitnet.entries import EntryReader, prod
from digitnet.kernels import ONE, col2im, column_sums, im2col, per_feature, product, sparse_product, times_transposed

Shape = tuple[int, ...]
Grads = dict[str, np.ndarray]

#: Layer classes by their ``kind``: the ``type`` of their model-file entry, the name of their layer spec.
LAYERS: dict[str, type[Layer]] = {}


class Draws(Protocol):
    """Where a fresh layer's tensors come from (``digitnet.initialise.Initialisation``)."""

    def weight(self, n_in: int, n_out: int) -> np.ndarray:
        """A fresh weight matrix ``(n_out, n_in)``: ``n_out`` units of ``n_in`` inputs each."""
        ...

    def bias(self, n: int) -> np.ndarray:
        """``n`` fresh biases."""
        ...


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make ``cls`` the layer of model-file entries of type ``cls.kind``."""
    LAYERS[cls.kind] = cls
    return cls


class Layer:
    """What every layer provides; the defaults fit a parameter-free, shape-preserving layer.

    - ``forward(x)``: inference. ``train_forward(x, rng)``: the training-time pass (batch
      statistics, dropout when ``rng`` is given), returning ``(y, cache)`` for ``backward``.
    - ``backward(x, y, g, cache, need_grad_x)``: with ``g = ∂C/∂y``, returns ``∂C/∂x`` (None when
      not needed) and ``{name: ∂C/∂param}`` for the parameters gradient descent trains. A ``cache``
      of None means ``y`` came from ``forward``: inference-time statistics held constant.
    - ``track(cache)``: fold what a training pass measured into the layer's state (batch norm's running
      averages); called only with a cache that is not None. Kept apart from ``train_forward``, which changes
      nothing, so that parts of a mini-batch can run at once and their statistics still count in a fixed order.
    - ``input_backward(x, y, g)``: ``∂C/∂x`` alone through the inference pass (for saliency maps),
      skipping the parameter gradients where they cost a matrix product.
    - ``output_shape(shape)``: the per-sample output shape, or ``ValueError`` saying why the
      input does not fit. ``work(shape)``: floats of scratch space one sample needs beyond its
      input and output (for the model file's memory limit).
    - ``params()``: every tensor, as stored (the attributes ``param_names``); ``config()``: the entry's other settings;
      ``from_entry(read)``: the layer an entry describes, read through a checking ``EntryReader``.
    - ``initial(shape, args, draws)``: a fresh layer from a recipe's layer spec ``(kind, *args)``.
    - ``label``: how the Inside view names the layer (``digitnet.inside``).
    """

    kind: ClassVar[str] = ""
    #: the attributes holding the layer's tensors, in the model file's order
    param_names: ClassVar[tuple[str, ...]] = ()
    #: whether the layer has a ``weight`` (a dense layer, a convolution): the layers that make features of their
    #: input; set from ``param_names`` for every layer class, so that it can be asked of a class too
    weighted: ClassVar[bool] = False
    #: the Inside view's name for the layer, formatted with its ``config()``; empty: its ``kind``
    label: ClassVar[str] = ""
    #: whether a batch normalisation has been merged into this layer (``Network.folded``)
    folded_batchnorm: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.weighted = "weight" in cls.param_names

    def params(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.param_names}

    def config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_entry(cls, read: EntryReader) -> Layer:
        return cls()

    @classmethod
    def initial(cls, shape: Shape, args: tuple[Any, ...], draws: Draws) -> Layer:
        """A fresh layer for per-sample inputs of ``shape``, from the ``args`` of its recipe spec ``(kind, *args)``;
        its tensors from ``draws``. Without tensors, ``args`` are its constructor's."""
        return cls(*args)

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def work(self, shape: Shape) -> int:
        return 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def train_forward(self, x: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, Any]:
        return self.forward(x), None

    def backward(
        self, x: np.ndarray, y: np.ndarray, grad_y: np.ndarray, cache: Any, need_grad_x: bool = True
    ) -> tuple[np.ndarray | None, Grads]:
        raise NotImplementedError

    def track(self, cache: Any) -> None:
        return None

    def input_backward(self, x: np.ndarray, y: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
        return self.backward(x, y, grad_y, None)[0]

    def absorb(self, scale: np.ndarray, shift: np.ndarray) -> Layer | None:
        """This layer followed by the per-feature map ``y ↦ y · scale + shift``, as one layer of this kind;
        None when it cannot be expressed so (folding batch normalisation for inference)."""
        return None


@register
class Dense(Layer):
    """Fully connected layer: ``z = x · Wᵀ + b``.

    Shapes: ``x (n, n_in)``, ``W (n_out, n_in)`` (Nielsen's orientation: row j
    holds the weights into neuron j), ``b (n_out,)``, ``z (n, n_out)``.
    Backward, with ``δ = ∂C/∂z``: ``∂C/∂W = δᵀ·x``, ``∂C/∂b = Σ_rows δ``, ``∂C/∂x = δ·W``.
    """

    kind = "dense"
    param_names = ("weight", "bias")
    label = "dense, {out} neurons"

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self.weight = weight
        self.bias = bias

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    def config(self) -> dict[str, int]:
        return {"in": self.n_in, "out": self.n_out}

    @classmethod
    def from_entry(cls, read: EntryReader) -> Dense:
        n_in, n_out = read.positive("in"), read.positive("out")
        return cls(read.tensor("weight", (n_out, n_in)), read.tensor("bias", (n_out,)))

    @classmethod
    def initial(cls, shape: Shape, args: tuple[Any, ...], draws: Draws) -> Dense:
        """``("dense", n_out)``: ``n_out`` units reading the whole input vector."""
        n_out = args[0]
        return cls(draws.weight(shape[0], n_out), draws.bias(n_out))

    def output_shape(self, shape: Shape) -> Shape:
        if shape != (self.n_in,):
            raise ValueError(f"takes {self.n_in} inputs but receives {describe(shape)}")
        return (self.n_out,)

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = times_transposed(x, self.weight)
        z += self.bias
        return z

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        grads = {"weight": product(grad_y.T, x), "bias": column_sums(grad_y)}
        return (self.input_backward(x, y, grad_y) if need_grad_x else None), grads

    def input_backward(self, x, y, grad_y):
        return product(grad_y, self.weight)

    def absorb(self, scale, shift):
        """``(x·Wᵀ + b)·s + t = x·(W ⊙ s[:, None])ᵀ + (b·s + t)``."""
        return Dense(self.weight * scale[:, None], self.bias * scale + shift)


class Activation(Layer):
    """An elementwise (or per-row) function without parameters: ``a = f(z)``."""

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        return self.derivative(x, y, grad_y), {}

    def derivative(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """``∂C/∂z`` from ``∂C/∂a``."""
        raise NotImplementedError


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1 / (1 + e^(−z))`` computed in one new array.

    ``e^(−z)`` overflows to ``inf`` for ``z ≪ 0``, which gives the correct limit
    ``σ = 0``: callers run it under ``np.errstate(over="ignore")`` for that reason.
    """
    a = np.negative(z)
    np.exp(a, out=a)
    a += ONE
    np.reciprocal(a, out=a)
    return a


@register
class Sigmoid(Activation):
    """Logistic activation: ``σ(z) = 1 / (1 + e^(−z))``, elementwise, any shape;
    ``σ′(z) = σ(z)(1 − σ(z))``, so ``∂C/∂z = ∂C/∂a ⊙ a ⊙ (1 − a)``."""

    kind = "sigmoid"

    forward = staticmethod(sigmoid)  # the function itself: one Python call less per pass

    def derivative(self, z, a, grad_a):
        grad = ONE - a
        grad *= a
        grad *= grad_a
        return grad


@register
class ReLU(Activation):
    """Rectified linear activation: ``max(0, z)``, elementwise, any shape; ``∂C/∂z = ∂C/∂a ⊙ [z > 0]``."""

    kind = "relu"
    label = "ReLU"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0)

    def derivative(self, z, a, grad_a):
        # into a float array made beforehand: NumPy's float × bool with a fresh output is ~3× slower
        grad = np.empty_like(grad_a)
        np.multiply(grad_a, a > 0, out=grad)
        return grad


@register
class Softmax(Activation):
    """Softmax over each row: ``a_j = e^(z_j) / Σ_k e^(z_k)``; ``z, a (n, k)``.

    Its Jacobian times ``g = ∂C/∂a``, per row: ``∂C/∂z = a ⊙ (g − Σ_k g_k a_k)``.
    """

    kind = "softmax"

    def forward(self, z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e

    def derivative(self, z, a, grad_a):
        return a * (grad_a - np.sum(grad_a * a, axis=1, keepdims=True))


#: The activations by name, as recipes and the model file name them.
ACTIVATIONS: dict[str, type[Activation]] = {cls.kind: cls for cls in (Sigmoid, ReLU, Softmax)}


@register
class Conv2D(Layer):
    """2-D convolution (cross-correlation) over images in NHWC layout.

    ``x (n, h, w, c)``, ``W (f, c, k, k)``, ``b (f,)`` → ``z (n, h', w', f)`` with
    ``h' = (h + 2·padding − k) // stride + 1``; each output is ``Σ W[f] ⊙ patch + b[f]``.
    Computed as one matrix product ``z = P · Wₘᵀ + b``: the patches laid out as rows
    ``P (n·h'·w', k·k·c)`` (im2col, ``(ky, kx, c)``-ordered so that each copied run is a
    pixel's whole channel vector) and ``Wₘ (f, k·k·c)`` the weights in the same order.
    Backward, with ``G = ∂C/∂z`` as ``(n·h'·w', f)``: ``∂C/∂W = Gᵀ·P``, ``∂C/∂b = Σ_rows G``, and
    ``∂C/∂x`` adds each row of ``G·Wₘ`` back onto the patch it came from (col2im).
    """

    kind = "conv2d"
    param_names = ("weight", "bias")
    label = "conv {size}×{size}, {filters} filters"

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0) -> None:
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding

    @property
    def size(self) -> int:
        return self.weight.shape[2]

    def config(self) -> dict[str, int]:
        filters, channels, size, _ = self.weight.shape
        return {"filters": filters, "channels": channels, "size": size, "stride": self.stride, "padding": self.padding}

    @classmethod
    def from_entry(cls, read: EntryReader) -> Conv2D:
        f, c, k = read.positive("filters"), read.positive("channels"), read.positive("size")
        stride, padding = read.integer("stride", 1, k), read.integer("padding", 0, k - 1)
        return cls(read.tensor("weight", (f, c, k, k)), read.tensor("bias", (f,)), stride, padding)

    @classmethod
    def initial(cls, shape: Shape, args: tuple[Any, ...], draws: Draws) -> Conv2D:
        """``("conv2d", filters, size, padding)``, stride 1, on images ``(h, w, c)``: each filter a unit of
        ``c·size·size`` inputs."""
        filters, size, padding = args
        channels = shape[2]
        weight = draws.weight(channels * size * size, filters).reshape(filters, channels, size, size)
        return cls(weight, draws.bias(filters), 1, padding)

    def output_shape(self, shape: Shape) -> Shape:
        channels, k = self.weight.shape[1], self.size
        if len(shape) != 3 or shape[2] != channels:
            raise ValueError(f"takes images with {channels} channels but receives {describe(shape)}")
        h, w = (d + 2 * self.padding - k for d in shape[:2])
        if h < 0 or w < 0:
            raise ValueError(f"a {k}×{k} kernel does not fit {describe(shape)}")
        return (h // self.stride + 1, w // self.stride + 1, len(self.weight))

    def work(self, shape: Shape) -> int:
        oh, ow, _ = self.output_shape(shape)
        padded = (shape[0] + 2 * self.padding) * (shape[1] + 2 * self.padding) * shape[2]
        return oh * ow * self.size * self.size * shape[2] + padded

    def matrix(self) -> np.ndarray:
        """``Wₘ (f, k·k·c)``: the weights in the patches' ``(ky, kx, c)`` order."""
        return self.weight.transpose(0, 2, 3, 1).reshape(len(self.weight), -1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.train_forward(x, None)[0]

    def train_forward(self, x, rng):
        columns, (n, oh, ow) = im2col(x, self.size, self.stride, self.padding)
        z = times_transposed(columns, self.matrix())
        z += self.bias
        return z.reshape(n, oh, ow, -1), columns

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        f, c, k, _ = self.weight.shape
        columns = cache if cache is not None else im2col(x, k, self.stride, self.padding)[0]
        g = grad_y.reshape(-1, f)
        # Gᵀ·P on the transposed view: BLAS takes it as it is (a contiguous copy of Gᵀ cost more than it
        # saved once freed memory is reused, benchmarks/cnn_profile.py)
        grad_w = (g.T @ columns).reshape(f, k, k, c).transpose(0, 3, 1, 2)
        grads = {"weight": np.ascontiguousarray(grad_w), "bias": g.sum(axis=0)}
        if not need_grad_x:
            return None, grads
        return self.input_grad(g, x.shape, grad_y.shape[:3]), grads

    def input_backward(self, x, y, grad_y):
        # one image's saliency gradient is mostly zeros here (max-pooling passes one value in four,
        # ReLU none below 0: about 1 in 10 in the cnn's second convolution)
        f, c, k, _ = self.weight.shape
        n, oh, ow = grad_y.shape[:3]
        grad_patches = sparse_product(grad_y.reshape(-1, f), self.matrix()).reshape(n, oh, ow, k, k, c)
        return col2im(grad_patches, x.shape, self.stride, self.padding)

    def input_grad(self, g: np.ndarray, shape: Shape, out: Shape) -> np.ndarray:
        """col2im of ``G·Wₘ`` without forming it: for each kernel offset ``(i, j)``,
        ``∂C/∂x[:, i + s·y, j + s·x] += G · W[:, :, i, j]``, one ``(n·h'·w', f)·(f, c)`` product each,
        whose result is already laid out like the input slice it is added to."""
        n, oh, ow = out
        k, p, s = self.size, self.padding, self.stride
        per_offset = self.weight.transpose(2, 3, 0, 1)  # (k, k, f, c)
        grad_x = np.zeros((n, shape[1] + 2 * p, shape[2] + 2 * p, shape[3]), dtype=g.dtype)
        for i in range(k):
            for j in range(k):
                grad_x[:, i : i + s * oh : s, j : j + s * ow : s, :] += (g @ per_offset[i, j]).reshape(n, oh, ow, -1)
        return grad_x[:, p : p + shape[1], p : p + shape[2], :] if p else grad_x

    def absorb(self, scale, shift):
        """Per filter, as for a dense layer: ``W[f] ⊙ s[f]``, ``b[f]·s[f] + t[f]``."""
        return Conv2D(self.weight * scale[:, None, None, None], self.bias * scale + shift, self.stride, self.padding)


@register
class MaxPool(Layer):
    """Maximum over non-overlapping ``size × size`` windows: ``x (n, h, w, c)`` → ``(n, h//size, w//size, c)``.

    Rows and columns beyond a whole number of windows are dropped. Backward: each window's
    gradient goes to the input that was its maximum (to every one, on a tie).
    """

    kind = "maxpool"
    label = "max-pool {size}×{size}"

    def __init__(self, size: int = 2) -> None:
        self.size = size

    def config(self) -> dict[str, int]:
        return {"size": self.size}

    @classmethod
    def from_entry(cls, read: EntryReader) -> MaxPool:
        return cls(read.integer("size", 1, 1 << 16))

    def output_shape(self, shape: Shape) -> Shape:
        if len(shape) != 3 or min(shape[:2]) < self.size:
            raise ValueError(f"pools images but receives {describe(shape)}")
        return (shape[0] // self.size, shape[1] // self.size, shape[2])

    def offsets(self, x: np.ndarray) -> list[np.ndarray]:
        """The ``size²`` strided views ``x[:, i::size, j::size]``, each cropped to whole windows:
        window ``(r, c)`` of the output holds one value of each."""
        s = self.size
        h, w = x.shape[1] // s, x.shape[2] // s
        return [x[:, i : h * s : s, j : w * s : s] for i in range(s) for j in range(s)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        # an elementwise maximum of the strided views: several times faster than a reduction
        # over two non-adjacent axes of a reshaped view
        views = self.offsets(x)
        y = views[0].copy()
        for view in views[1:]:
            np.maximum(y, view, out=y)
        return y

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        # x's whole windows as (n, h', s, w', s, c), compared with y and multiplied by ∂C/∂y broadcast
        # over each window: two contiguous passes that write every element once
        s = self.size
        n, oh, ow, c = y.shape
        whole = (oh * s, ow * s) == x.shape[1:3]
        grad_x = (np.empty if whole else np.zeros)(x.shape, dtype=grad_y.dtype)
        windows = grad_x[:, : oh * s, : ow * s].reshape(n, oh, s, ow, s, c)  # splitting axes: a view
        np.equal(x[:, : oh * s, : ow * s].reshape(windows.shape), y[:, :, None, :, None], out=windows)
        windows *= grad_y[:, :, None, :, None]
        return grad_x, {}


@register
class Reshape(Layer):
    """``x (n, ...)`` → ``(n, *shape)``: pixels to an image ``(28, 28, 1)``, or a feature map to a vector ``(-1,)``."""

    kind = "reshape"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def config(self) -> dict[str, list[int]]:
        return {"shape": list(self.shape)}

    @classmethod
    def from_entry(cls, read: EntryReader) -> Reshape:
        shape = read.int_list("shape")
        if not shape or not all(d > 0 or d == -1 for d in shape) or shape.count(-1) > 1 or len(shape) > 8:
            read.fail(f"'shape' must list up to 8 positive sizes (at most one -1), got {shape}")
        return cls(tuple(shape))

    @classmethod
    def initial(cls, shape: Shape, args: tuple[Any, ...], draws: Draws) -> Reshape:
        """``("reshape", *shape)``."""
        return cls(args)

    def output_shape(self, shape: Shape) -> Shape:
        size, known = prod(shape), prod(d for d in self.shape if d != -1)
        target = tuple(size // known if d == -1 else d for d in self.shape)
        if prod(target) != size:
            raise ValueError(f"cannot reshape {describe(shape)} to {list(self.shape)}")
        return target

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), *self.shape)

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        return grad_y.reshape(x.shape), {}


@register
class Dropout(Layer):
    """Drops each input with probability ``rate`` while training; the identity at inference
    (inverted dropout: training multiplies by a mask of 0 (probability ``rate``) and ``1/(1 − rate)``,
    so ``y = x ⊙ mask`` and ``∂C/∂x = ∂C/∂y ⊙ mask``)."""

    kind = "dropout"

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def config(self) -> dict[str, float]:
        return {"rate": self.rate}

    @classmethod
    def from_entry(cls, read: EntryReader) -> Dropout:
        return cls(read.number("rate", 0.0, 0.99))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def train_forward(self, x, rng):
        if rng is None:
            return x, None
        keep = 1 - self.rate
        mask = (rng.random(x.shape, dtype=np.float32) < keep).astype(x.dtype) / x.dtype.type(keep)
        return x * mask, mask

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        return (grad_y if cache is None else grad_y * cache), {}


@register
class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015), per feature (the last axis):
    ``y = γ x̂ + β``, ``x̂ = (x − μ) / √(σ² + ε)``; ``x, y (n, ..., f)``; ``γ, β, μ, σ² (f,)``.

    At inference ``μ, σ²`` are the running averages of the mini-batch statistics seen in
    training (``statistics``: not trained by gradient descent). In training they are the
    mini-batch's own over all axes but the last (m values per feature), and ``track`` moves the
    running averages: ``μ → momentum·μ + (1 − momentum)·μ_B``, the same for ``σ²`` with the
    unbiased ``σ²_B``. Backward, with ``g = ∂C/∂y``: ``∂C/∂γ = Σ g ⊙ x̂``, ``∂C/∂β = Σ g`` and,
    since the batch statistics depend on x,
    ``∂C/∂x = γ/(m √(σ²_B + ε)) · (m g − ∂C/∂β − x̂ ⊙ ∂C/∂γ)``; at inference ``∂C/∂x = γ g / √(σ² + ε)``.
    """

    kind = "batchnorm"
    param_names = ("gamma", "beta", "mean", "variance")
    label = "batch norm"
    statistics = ("mean", "variance")
    momentum = 0.9

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

    def config(self) -> dict[str, int | float]:
        return {"features": self.features, "epsilon": self.epsilon}

    @classmethod
    def from_entry(cls, read: EntryReader) -> BatchNorm:
        f = read.positive("features")
        # below 1e-12 a zero variance turns 1/√(σ² + ε) into an overflow, and the outputs into NaN
        epsilon = read.number("epsilon", 1e-12, 1.0)
        tensors = [read.tensor(key, (f,)) for key in ("gamma", "beta", "mean", "variance")]
        if np.any(tensors[3] < 0):
            read.fail("tensor 'variance' holds negative values")
        return cls(*tensors, epsilon=epsilon)

    @classmethod
    def initial(cls, shape: Shape, args: tuple[Any, ...], draws: Draws) -> BatchNorm:
        """``("batchnorm",)`` over the input's last axis, starting as the identity: γ = 1, β = 0, μ = 0, σ² = 1."""
        f = shape[-1]
        ones, zeros = np.ones(f, np.float32), np.zeros(f, np.float32)
        return cls(ones, zeros.copy(), zeros.copy(), ones.copy())

    def output_shape(self, shape: Shape) -> Shape:
        if shape[-1] != self.features:
            raise ValueError(f"normalises {self.features} features but receives {describe(shape)}")
        return shape

    def scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """Inference as one affine map per feature: ``y = x · s + t``, ``s = γ/√(σ² + ε)``, ``t = β − μ s``,
        in float64 whatever the parameters' type (inference computes in float64)."""
        gamma, beta, mean, variance = (v.astype(np.float64) for v in (self.gamma, self.beta, self.mean, self.variance))
        scale = gamma / np.sqrt(variance + self.epsilon)
        return scale, beta - mean * scale

    def forward(self, x: np.ndarray) -> np.ndarray:
        scale, shift = self.scale_shift()
        y = x * scale
        y += shift
        return y

    def train_forward(self, x, rng):
        wide, k, ones = self.wide(x)
        count = len(wide) * k
        # the sums as products with a vector of ones (one BLAS pass each), and σ² = E[x²] − μ²: two
        # passes over x in all, where a centred copy and a reduction over the short last axis took four
        square = np.square(wide)
        mean = per_feature(ones @ wide, k) / count
        variance = np.maximum(per_feature(ones @ square, k) / count - mean * mean, 0)
        inv_std = 1 / np.sqrt(variance + self.epsilon)
        scale = self.gamma * inv_std
        y = np.multiply(wide, np.tile(scale, k), out=square)
        y += np.tile(self.beta - mean * scale, k)
        return y.reshape(x.shape), (mean, inv_std, variance * (count / max(count - 1, 1)))

    def track(self, cache):
        """``μ → momentum·μ + (1 − momentum)·μ_B``, the same for ``σ²`` with the unbiased ``σ²_B``."""
        mean, _, variance = cache
        self.mean *= self.momentum
        self.mean += (1 - self.momentum) * mean
        self.variance *= self.momentum
        self.variance += (1 - self.momentum) * variance

    def wide(self, x: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
        """``x (n, ..., w, f)`` as ``(n·…, w·f)`` rows (``k = w`` copies of the features side by side;
        ``k = 1`` for ``x (n, f)``) and a vector of ones as long as a column. NumPy's elementwise
        loops run along the last axis: rows of ``w·f`` instead of ``f`` values make far fewer of them."""
        k = x.shape[-2] if x.ndim > 2 else 1
        wide = x.reshape(-1, k * self.features)
        return wide, k, np.ones(len(wide), dtype=x.dtype)

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        g, k, ones = self.wide(grad_y)
        xw = x.reshape(g.shape)
        grad_beta = per_feature(ones @ g, k)
        if cache is None:  # inference: μ and σ² are constants
            mean, inv_std = self.mean, 1 / np.sqrt(self.variance + self.epsilon)
        else:
            mean, inv_std, _ = cache
        # ∂C/∂γ = Σ g ⊙ x̂ = r·(Σ g ⊙ x − μ·Σ g), r = 1/√(σ² + ε), without forming x̂
        grad_gamma = (per_feature(np.einsum("ij,ij->j", g, xw), k) - mean * grad_beta) * inv_std
        scale = self.gamma * inv_std
        grads = {"gamma": grad_gamma, "beta": grad_beta}
        if cache is None:
            return grad_y * scale, grads
        # the formula above expanded in x: ∂C/∂x = γr·g − b·x + b·μ − γr·∂C/∂β/m, b = γr²·∂C/∂γ/m
        count = len(g) * k
        b = scale * inv_std * grad_gamma / count
        grad_x = np.multiply(g, np.tile(scale, k))
        grad_x -= np.multiply(xw, np.tile(b, k))
        grad_x += np.tile(b * mean - scale * grad_beta / count, k)
        return grad_x.reshape(grad_y.shape), grads


#: The original Rust-NN's six hand-written 4×4 kernels: vertical line, horizontal line, the two
#: diagonals, two ring shapes.
RUST_NN_KERNELS = np.array(
    [
        [[-1, 1, 1, -1]] * 4,
        [[-1, -1, -1, -1], [1, 1, 1, 1], [1, 1, 1, 1], [-1, -1, -1, -1]],
        [[-1, 0, 0.5, 1], [0, 0.5, 1, 0.5], [0.5, 1, 0.5, 0], [1, 0.5, 0, -1]],
        [[1, 0.5, 0, -1], [0.5, 1, 0.5, 0], [0, 0.5, 1, 0.5], [-1, 0, 0.5, 1]],
        [[-1, 1, 1, -1], [1, -1, -1, 1], [1, -1, -1, 1], [-1, 1, 1, -1]],
        [[0.5, 1, 1, 0.5], [1, 0.5, 0.5, 1], [1, 0.5, 0.5, 1], [0.5, 1, 1, 0.5]],
    ],
    dtype=np.float32,
)


@register
class PatchFeatures(Layer):
    """The original Rust-NN's "conv" inputs: kernels applied to disjoint patches, put in front of the pixels.

    ``x (n, 784)`` is cut into 7×7 disjoint 4×4 patches ``P (n, 49, 16)``; with
    ``K (k, 4, 4)`` the features are ``F = P·Kᵀ``, kernel by kernel, so the output is
    ``[features (k·49), x (784)]``, ``(n, 784 + 49k)``. No activation. ``learned``
    says whether training changes the kernels. Backward, with ``G`` the features'
    gradient: ``∂C/∂K = Σ_n Gᵀ·P`` (none when the kernels are fixed); ``∂C/∂x`` is the
    pixels' own gradient plus ``G·K`` put back on the patches.
    """

    kind = "patch-features"
    param_names = ("kernels",)
    label = "{filters} patch kernels + pixels"
    side = 28

    def __init__(self, kernels: np.ndarray, learned: bool = False) -> None:
        self.kernels = kernels
        self.learned = learned

    @property
    def n_out(self) -> int:
        k, size, _ = self.kernels.shape
        return self.side * self.side + k * (self.side // size) ** 2

    def config(self) -> dict[str, int | bool]:
        return {"filters": len(self.kernels), "patch": self.kernels.shape[1], "learned": self.learned}

    @classmethod
    def from_entry(cls, read: EntryReader) -> PatchFeatures:
        k, size = read.positive("filters"), read.positive("patch")
        if cls.side % size:
            read.fail(f"'patch' must divide {cls.side}, got {size}")
        return cls(read.tensor("kernels", (k, size, size)), read.flag("learned"))

    @classmethod
    def initial(cls, shape: Shape, args: tuple[Any, ...], draws: Draws) -> PatchFeatures:
        """``("patch-features", learned)``: the original's kernels (``RUST_NN_KERNELS``), learned or fixed."""
        return cls(RUST_NN_KERNELS.copy(), learned=args[0])

    def output_shape(self, shape: Shape) -> Shape:
        if shape != (self.side * self.side,):
            raise ValueError(f"takes the {self.side * self.side} pixels but receives {describe(shape)}")
        return (self.n_out,)

    def patches(self, x: np.ndarray) -> np.ndarray:
        """``x (n, 784)`` → ``P (n, m², size²)``, patches in row-major order, pixels row-major inside."""
        size = self.kernels.shape[1]
        m = self.side // size
        return x.reshape(len(x), m, size, m, size).transpose(0, 1, 3, 2, 4).reshape(len(x), m * m, size * size)

    def forward(self, x: np.ndarray) -> np.ndarray:
        features = times_transposed(self.patches(x), self.kernels.reshape(len(self.kernels), -1))
        return np.concatenate([features.transpose(0, 2, 1).reshape(len(x), -1), x], axis=1)

    def backward(self, x, y, grad_y, cache, need_grad_x=True):
        k, size, _ = self.kernels.shape
        n_features = self.n_out - x.shape[1]
        g = grad_y[:, :n_features].reshape(len(x), k, -1)  # (n, k, patches)
        grads = {}
        if self.learned:
            grads["kernels"] = np.einsum("nkp,npj->kj", g, self.patches(x)).reshape(self.kernels.shape)
        if not need_grad_x:
            return None, grads
        m = self.side // size
        back = (g.transpose(0, 2, 1) @ self.kernels.reshape(k, -1)).reshape(len(x), m, m, size, size)
        return grad_y[:, n_features:] + back.transpose(0, 1, 3, 2, 4).reshape(x.shape), grads


def describe(shape: Shape) -> str:
    return str(shape[0]) if len(shape) == 1 else f"shape {list(shape)}"
