"""The original Rust-NN project's "randomised data": shifted and noisy copies of MNIST digits.

Shift: 3 or 4 pixels, the direction cycling left, down, right, up with the
image's index, vacated pixels set to 0. Noise: a number of randomly chosen
pixels flipped (value > 0.5 → 0, else → 1). The extra training copies follow
the original's pattern: of N copies, the first 30 % shifted, the next 30 % noisy,
the last 40 % both (15,000 / 15,000 / 20,000 for the 50,000 training images).
"""

from __future__ import annotations

import numpy as np

from digitnet.training.mnist import Split

SIDE = 28
DIRECTIONS = ("left", "down", "right", "up")


def shift(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``images (n, 784)`` moved 3 or 4 pixels, the i-th towards ``DIRECTIONS[i % 4]``."""
    out = np.zeros_like(images).reshape(-1, SIDE, SIDE)
    src = images.reshape(-1, SIDE, SIDE)
    amounts = rng.integers(3, 5, len(images))
    for i, (image, k) in enumerate(zip(src, amounts, strict=True)):
        direction = DIRECTIONS[i % 4]
        if direction == "left":
            out[i, :, :-k] = image[:, k:]
        elif direction == "right":
            out[i, :, k:] = image[:, :-k]
        elif direction == "up":
            out[i, :-k] = image[k:]
        else:
            out[i, k:] = image[:-k]
    return out.reshape(len(images), -1)


def add_noise(images: np.ndarray, rng: np.random.Generator, low: int = 50, high: int = 150) -> np.ndarray:
    """``images (n, 784)`` with between ``low`` and ``high`` random pixels each flipped: > 0.5 → 0, else → 1."""
    noisy = images.copy()
    counts = rng.integers(low, high + 1, len(images))
    for image, count in zip(noisy, counts, strict=True):
        where = rng.choice(image.size, size=count, replace=False)
        image[where] = np.where(image[where] > 0.5, 0.0, 1.0)
    return noisy


def shifted_and_noisy(split: Split, rng: np.random.Generator, noise_high: int = 150) -> Split:
    """Every image of ``split`` shifted, then noised: the original's validation and test copies."""
    return Split(add_noise(shift(split.images, rng), rng, high=noise_high), split.labels.copy())


def with_randomised_copies(split: Split, rng: np.random.Generator, noise_high: int = 150) -> Split:
    """``split`` followed by one randomised copy of each image (30 % shifted, 30 % noisy, 40 % both)."""
    n = len(split)
    a, b = round(0.3 * n), round(0.6 * n)
    images, labels = split.images, split.labels
    copies = np.concatenate(
        [
            shift(images[:a], rng),
            add_noise(images[a:b], rng, high=noise_high),
            add_noise(shift(images[b:], rng), rng, high=noise_high),
        ]
    )
    return Split(np.concatenate([images, copies]), np.concatenate([labels, labels]))


def concatenate(first: Split, second: Split) -> Split:
    return Split(np.concatenate([first.images, second.images]), np.concatenate([first.labels, second.labels]))
