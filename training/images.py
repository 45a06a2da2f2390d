"""Reading digit pictures (PNG, JPEG, ...) through Pillow into network inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 25_000_000


class ImageError(ValueError):
    """A file that cannot be read as a picture of a digit."""


def read_ink(path: str | Path) -> np.ndarray:
    """The picture at ``path`` as ``ink (H, W)`` in [0, 1]: 1 where the pen was.

    A picture whose border is transparent is a drawing on a clear sheet: its
    opacity is the ink. Otherwise the paper is the border's brightness, and
    dark ink on light paper (a scan or photo) is inverted, as MNIST's ink is bright.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(
                    f"{path}: {image.width}×{image.height} pixels is too large (at most {MAX_PIXELS:,} pixels)"
                )
            if image.width == 0 or image.height == 0:
                raise ImageError(f"{path}: the image is empty")
            rgba = image.convert("RGBA")
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except (OSError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path}: unreadable image ({e})") from None
    # One uint8 channel at a time, then float32: a picture at the pixel cap stays within a few hundred MB.
    alpha = np.asarray(rgba.getchannel("A"))
    if np.median(border(alpha)) / 255 < 0.5:
        return alpha / np.float32(255)
    gray = np.asarray(rgba.convert("L")) / np.float32(255)  # ITU-R 601 luma: 0.299 R + 0.587 G + 0.114 B
    if np.median(border(gray)) > 0.5:
        gray = 1 - gray
    return gray


def border(image: np.ndarray) -> np.ndarray:
    """The pixels of the outermost rows and columns of ``image (H, W)``, as one vector."""
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
