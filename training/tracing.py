"""Pen strokes traced from raster digits: how a person might have drawn an MNIST image.

The digit is enlarged, thinned to a one-pixel skeleton (Zhang & Suen 1984)
and the skeleton is walked into polylines. Where the ink closed a loop's hole
(a 9 or an 8 written with a broad pen), the loop is traced round, as it was
written, instead of thinned into a line. Used to draw real MNIST test digits
on the web page in browser tests and to measure how the page's preprocessing
treats drawings.
"""

from __future__ import annotations

import numpy as np

from digitnet.preprocess import resample
from digitnet.strokes import PEN

UPSCALE = 4
#: 8-neighbourhood offsets in Zhang–Suen's order P2..P9 (north, then clockwise)
NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
#: the 4 of them that share a side
CROSS = NEIGHBOURS[0::2]
#: ink deeper than this many pen half-widths is a filled area, not a line
FILLED = 2.0
#: a filled area is traced round only where the pen's centre region reaches this many enlarged pixels
#: from its edge: a loop narrower than the pen the page renders with (``PEN``) would be filled again
HOLE = round(PEN * UPSCALE / 2)
#: a filled loop is round-ish: its pen-centre region's area is at most this many times the square of
#: its depth (a disk's is about 4.5 times; a thick straight stroke's, long and narrow, far more)
COMPACT = 12.0
#: changes whenever tracing changes, so that cached tracings are made again
VERSION = 3


def trace_digit(image: np.ndarray, threshold: float = 0.5) -> list[np.ndarray]:
    """Strokes ``(k, 2)`` of ``(x, y)`` points, in the 28×28 image's pixel units, for ``image (784,)``."""
    side = 28 * UPSCALE
    big = resample(image.reshape(28, 28).astype(np.float64), side, side) > threshold
    skeleton = open_filled(big, thin(big))
    return [(path[:, ::-1] + 0.5) / UPSCALE for path in walk(skeleton) if len(path) >= 3]


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang–Suen thinning of a boolean image to a skeleton one pixel wide."""
    skeleton = np.pad(mask, 1).astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = [np.roll(skeleton, (-dr, -dc), axis=(0, 1)) for dr, dc in NEIGHBOURS]
            count = sum(p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                keep = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                keep = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            remove = (skeleton == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & keep
            if remove.any():
                skeleton[remove] = 0
                changed = True
    return skeleton[1:-1, 1:-1].astype(bool)


def open_filled(mask: np.ndarray, skeleton: np.ndarray) -> np.ndarray:
    """``skeleton`` of ``mask`` with each filled area replaced by the path of the pen's centre round it.

    Thinning turns a loop whose hole the ink filled into a short line, and the digit into another:
    a 9 into a 7 or a 1, an 8 into a 6. With the pen's half-width r taken as the skeleton's
    25th-percentile depth (distance to the background), ink deeper than ``FILLED``·r is such an
    area's core. Its pen-centre region is where the pen's centre could go within the area: every
    point within depth(q) − r of a core point q, which is grown outwards level by level,

        S_j = dilate(S_{j+1}) ∪ {q in core : depth(q) − r ≥ j},  down to S_0.

    Only the parts of S_0 that reach ``HOLE`` pixels from its edge are kept (a thick junction's S_0
    is narrower: drawn round with the page's pen it would be a blob again). The skeleton inside them
    gives way to their outline, and the result is thinned again (thinning keeps the outline's hole,
    so the loop stays a loop). A region longer than a loop (``COMPACT``) is a thick stroke, not a
    loop: a thick 1 beside a thin stray mark, which drags r down, stays a 1.
    """
    if not skeleton.any():
        return skeleton
    depth = depth_map(mask)
    # at least 1: a skeleton off the ink (not ``thin``'s) would otherwise make all of the ink a core
    radius = max(1, round(float(np.percentile(depth[skeleton], 25))))
    core = depth > FILLED * radius
    if not core.any():
        return skeleton
    reach = np.where(core, depth - radius, -1)
    region = reach >= reach.max()
    for level in range(int(reach.max()) - 1, -1, -1):
        region = neighbourhood(region, np.logical_or) | (reach >= level)
    # a loop the pen, as wide as the page renders it, would fill again is no loop: a thick junction
    seeds = region
    for _ in range(HOLE):
        seeds = neighbourhood(seeds, np.logical_and)
    if not seeds.any():
        return skeleton
    while True:  # the parts of the region that hold such a hole, grown back from it within the region
        grown = neighbourhood(seeds, np.logical_or) & region
        if np.array_equal(grown, seeds):
            break
        seeds = grown
    region = seeds
    if region.sum() > COMPACT * depth_map(region).max() ** 2:
        return skeleton
    outline = region & ~neighbourhood(region, np.logical_and)
    return thin((skeleton & ~region) | outline)


def neighbourhood(mask: np.ndarray, combine: np.ufunc, offsets: tuple = NEIGHBOURS) -> np.ndarray:
    """Each pixel of ``mask`` combined with its neighbours at ``offsets``: dilation (``logical_or``) or
    erosion (``logical_and``) by a 3×3 square (or a cross, with ``CROSS``); outside the image counts as
    background."""
    padded = np.pad(mask, 1)
    rows, cols = mask.shape
    out = mask.copy()
    for dr, dc in offsets:
        combine(out, padded[1 + dr : 1 + dr + rows, 1 + dc : 1 + dc + cols], out=out)
    return out


def depth_map(mask: np.ndarray) -> np.ndarray:
    """Each ink pixel's octagonal distance to the background (1 on the ink's edge), 0 off the ink:
    erosions by a cross and by a square in turn. Closer to the Euclidean distance than either alone,
    so that a diagonal stroke measures about as deep as an upright one (by squares alone, 1/√2 as
    deep, and where two diagonal strokes cross, the crossing looks filled)."""
    depth = np.zeros(mask.shape, dtype=np.int32)
    level = mask
    step = 0
    while level.any():
        depth += level
        level = neighbourhood(level, np.logical_and, CROSS if step % 2 == 0 else NEIGHBOURS)
        step += 1
    return depth


def walk(skeleton: np.ndarray) -> list[np.ndarray]:
    """The skeleton's pixels as polylines of ``(row, col)``: from each end point, then around loops."""
    pixels = {tuple(p) for p in np.argwhere(skeleton)}

    def neighbours(p):
        return [(p[0] + dr, p[1] + dc) for dr, dc in NEIGHBOURS if (p[0] + dr, p[1] + dc) in pixels]

    visited: set[tuple[int, int]] = set()
    ends = sorted(p for p in pixels if len(neighbours(p)) == 1)
    paths = []
    for start in ends + sorted(pixels):
        if start in visited:
            continue
        path = [start]
        visited.add(start)
        while True:
            options = [n for n in neighbours(path[-1]) if n not in visited]
            if not options:
                # close a loop or join a junction already drawn, as a pen would
                joins = [n for n in neighbours(path[-1]) if len(path) < 2 or n != path[-2]]
                if joins and len(path) > 2:
                    path.append(joins[0])
                break
            straight = [n for n in options if n[0] == path[-1][0] or n[1] == path[-1][1]]
            step = (straight or options)[0]
            path.append(step)
            visited.add(step)
        paths.append(np.array(path, dtype=np.float64))
    return paths
