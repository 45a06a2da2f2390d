"""The array kernels the layers compute with: patches as rows and back (``im2col``, ``col2im``), matrix
products that take the fastest path NumPy has here (BLAS in CPython, its own loops in Pyodide), sums.

Plain NumPy on arrays, nothing about layers: ``digitnet.layers`` calls them.
"""

from __future__ import annotations

import sys

import numpy as np

#: NumPy in Pyodide is built without BLAS: its matmul is a plain loop, and einsum's
#: sum-of-products loop computes the same product about twice as fast for long rows (the cnn's
#: second convolution, (704, 800)·(800, 64): 16 against 31 ms in float64; the dense
#: (11, 1024)·(1024, 256): 1.4 against 7 ms). With BLAS, in CPython, matmul is far the faster.
NO_BLAS = sys.platform == "emscripten"
#: ... for rows at least this long; shorter ones (the first convolution's 25) gain nothing.
EINSUM_FROM = 64
#: ``product(a, b) = a · b`` for 2-D arrays. With BLAS, ``ndarray.dot``: it hands the product straight to BLAS,
#: where ``@`` first goes through the generalised-ufunc machinery, which for a mini-batch's small matrices costs
#: as much as the product itself ((10, 10)·(10, 30): 0.44 against 0.98 µs; (10, 784)·(784, 30): 5.2 against
#: 5.7 µs), with the same BLAS call and so the same result. Without BLAS (Pyodide), ``@`` as before: its own loops.
#: Not for arrays of more than 2 dimensions: ``dot`` has no BLAS path for them.
product = np.matmul if NO_BLAS else np.ndarray.dot
#: The constant 1 as a 0-d array: a ufunc takes it in about half the time of the Python scalar 1,
#: which it converts on every call (0.33 against 0.67 µs on a (10, 30) array). float32, so that float32
#: arrays stay float32 and float64 ones float64 (1 is exact in both); a float16 array would become
#: float32, and no tensor is float16 here (model files' float16 is read as float32).
ONE = np.ones((), dtype=np.float32)
ONE.flags.writeable = False


def im2col(x: np.ndarray, size: int, stride: int, padding: int) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Every ``size × size`` patch of ``x (n, h, w, c)`` as a row, ``(ky, kx, c)``-ordered.

    Returns ``columns (n·h'·w', size·size·c)`` and ``(n, h', w')``. The patches are a strided view
    (no copy); the one copy writes the rows contiguously, which NumPy does far faster than
    filling them slice by slice.
    """
    if padding:
        x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    patches = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    n, oh, ow = patches.shape[:3]
    columns = np.ascontiguousarray(patches.transpose(0, 1, 2, 4, 5, 3))  # (n, h', w', ky, kx, c)
    return columns.reshape(n * oh * ow, -1), (n, oh, ow)


def col2im(grad_patches: np.ndarray, shape: tuple[int, ...], stride: int, padding: int) -> np.ndarray:
    """The adjoint of ``im2col``: ``grad_patches (n, h', w', k, k, c)`` summed back onto the
    input positions they were copied from, ``(n, h, w, c)`` = ``shape``."""
    n, oh, ow, k, _, c = grad_patches.shape
    p, s = padding, stride
    grad_x = np.zeros((n, shape[1] + 2 * p, shape[2] + 2 * p, c), dtype=grad_patches.dtype)
    for i in range(k):
        for j in range(k):
            grad_x[:, i : i + s * oh : s, j : j + s * ow : s, :] += grad_patches[:, :, :, i, j, :]
    return grad_x[:, p : p + shape[1], p : p + shape[2], :] if p else grad_x


def times_transposed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a · bᵀ`` for ``a (..., k)`` and ``b (p, k)``: shape ``(..., p)``, by einsum where NumPy has no
    BLAS (``NO_BLAS``)."""
    if NO_BLAS and a.shape[-1] >= EINSUM_FROM:
        return np.einsum("...k,jk->...j", a, b)
    return product(a, b.T) if a.ndim == 2 else a @ b.T


def sparse_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a · b`` for ``a (m, k)``, ``b (k, p)``, row by row over ``a``'s non-zero entries when they are
    few (under a quarter), the rows few (≤ 1024, one image) and each row's dense product large
    (``k·p`` ≥ 10⁴): then skipping the zeros saves more than the loop costs. Else the dense product."""
    nonzero = a != 0
    if len(a) > 1024 or a.shape[1] * b.shape[1] < 10_000 or nonzero.mean() >= 0.25:
        return a @ b
    out = np.zeros((len(a), b.shape[1]), dtype=np.result_type(a, b))
    for i in np.flatnonzero(nonzero.any(axis=1)):
        columns = np.flatnonzero(nonzero[i])
        out[i] = a[i, columns] @ b[columns]
    return out


#: Read-only vectors of ones by (length, dtype), for ``column_sums``: one per mini-batch size met.
_ONES: dict[tuple[int, np.dtype], np.ndarray] = {}


def column_sums(g: np.ndarray) -> np.ndarray:
    """``Σ_rows g`` for ``g (n, k)``, shape ``(k,)``: the product ``1ₙ · g`` with a vector of ones. For the few
    rows of a mini-batch one BLAS product takes a quarter of the time of ``g.sum(axis=0)`` (0.32 against 1.2 µs
    for (10, 30)); the sum's order, and so its rounding, may differ. Without BLAS (Pyodide), where the
    product is a plain loop, the sum itself."""
    if NO_BLAS:
        return g.sum(axis=0)
    key = (len(g), g.dtype)
    ones = _ONES.get(key)
    if ones is None:
        ones = np.ones(len(g), dtype=g.dtype)
        ones.flags.writeable = False
        _ONES[key] = ones  # a race only makes the same vector twice
    return product(ones, g)


def per_feature(sums: np.ndarray, k: int) -> np.ndarray:
    """Sums ``(k·f,)`` over ``k`` side-by-side copies of ``f`` features → ``(f,)``."""
    return sums.reshape(k, -1).sum(axis=0) if k > 1 else sums
