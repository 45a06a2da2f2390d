"""The page's model choice from ``?model=`` and a site built from models with unusable metadata."""

import json
import shutil

import pytest

from digitnet.web.site import SiteError, copy_models

from .conftest import ROOT
from .webpage import wait_ready


def test_unknown_model_falls_back_to_the_default_with_a_note(browser, served, site):
    default = json.loads((site / "models" / "index.json").read_text())["default"]
    context = browser.new_context(service_workers="block", viewport={"width": 390, "height": 800})
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(served + "?model=../../etc/passwd%3Cb%3E")
        wait_ready(page)
        assert page.evaluate("document.getElementById('model').value") == default
        note = page.locator("#note")
        assert note.is_visible()
        assert note.text_content() == (
            f"There is no model “../../etc/passwd<b>” here: showing the default model, {default[:-5]}."
        )
        fetched = {url.removeprefix(served) for url in requested if "/models/" in url}
        assert fetched == {"models/index.json", f"models/{default}.gz"}  # the unknown name was never fetched
        page.goto(served + "?model=c1")  # a model's name, without .json, is known
        wait_ready(page)
        assert page.evaluate("document.getElementById('model').value") == "c1.json"
        assert not page.locator("#note").is_visible()
    finally:
        context.close()


def test_build_ignores_metadata_it_cannot_use(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    for name, test_accuracy, description in (("c1", "99 %", ["x"]), ("c2", True, "fine"), ("c2-100", 97.5, 3)):
        model = json.loads((ROOT / "weights" / f"{name}.json").read_text())
        model["metadata"].update(test_accuracy=test_accuracy, description=description)
        (weights / f"{name}.json").write_text(json.dumps(model))
    (weights / "robustness.json").write_text(json.dumps({"c1": {"drawn": "high"}, "c2": [1, 2], "c2-100": 5}))
    entries = copy_models(weights, tmp_path / "site" / "models")
    by_name = {entry["name"]: entry for entry in entries}
    assert by_name["c1"]["test_accuracy"] is None and by_name["c1"]["description"] == ""
    assert by_name["c2"]["test_accuracy"] is None and by_name["c2"]["description"] == "fine"
    assert by_name["c2-100"]["test_accuracy"] == 97.5 and by_name["c2-100"]["description"] == ""
    assert all(entry["drawn_accuracy"] is None and entry["writers_accuracy"] is None for entry in entries)
    index = json.loads((tmp_path / "site" / "models" / "index.json").read_text())
    assert index["default"] == "c2-100.json"
    shutil.rmtree(tmp_path / "site")
    (weights / "robustness.json").write_text("{not json")
    with pytest.raises(SiteError, match=r"robustness\.json: unreadable"):
        copy_models(weights, tmp_path / "site" / "models")


def test_the_default_is_the_model_best_on_real_writers_whatever_the_other_figures(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("c1", "c2", "c2-100"):
        shutil.copy(ROOT / "weights" / f"{name}.json", weights)
    (weights / "robustness.json").write_text(json.dumps({"c1": {"drawn": 99.0}, "c2": {"drawn": 90.0}}))
    (weights / "writers.json").write_text(json.dumps({"c1": {"whole": 80.0}, "c2": {"whole": 90.0}}))
    entries = copy_models(weights, tmp_path / "site" / "models")
    assert [e["name"] for e in entries] == ["c2", "c1", "c2-100"]  # c2-100 unmeasured on writers: last
    assert entries[0]["writers_accuracy"] == 90.0 and entries[1]["drawn_accuracy"] == 99.0
    assert json.loads((tmp_path / "site" / "models" / "index.json").read_text())["default"] == "c2.json"
