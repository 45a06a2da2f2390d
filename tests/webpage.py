"""Helpers for driving the page in tests: waiting under a strict CSP, drawing strokes with the mouse."""

from __future__ import annotations

import json

import numpy as np
from playwright.sync_api import Page

from digitnet.web.snapshot import wait_until

STATE = "document.body.dataset.state"


def wait_ready(page: Page, timeout: float = 60.0) -> None:
    wait_until(page, f"['ready', 'error'].includes({STATE})", timeout)
    assert page.evaluate(STATE) == "ready", page.text_content("#status")


def draw(page: Page, strokes: list[np.ndarray]) -> None:
    """Draw ``strokes`` (each ``(k, 2)`` points in the pad's CSS pixels) with the mouse."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()


def shown_prediction(page: Page, strokes: int, timeout: float = 15.0) -> tuple[str, list[float]]:
    """The digit and probabilities shown once the page has answered for exactly ``strokes`` strokes."""
    wait_until(page, f"document.getElementById('prediction').dataset.strokes === '{strokes}'", timeout)
    return page.text_content("#prediction"), json.loads(page.get_attribute("#prediction", "data-probs"))


def pad_size(page: Page) -> float:
    box = page.locator("#pad").bounding_box()
    return min(box["width"], box["height"])
