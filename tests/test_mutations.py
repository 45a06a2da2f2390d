"""The model-file mutation harness (tests/mutations.py) used by the fuzz campaign: replayable, and
applying the contract (answered / refused / a failure) correctly to known files."""

import json

from .mutations import mutated_cases, outcome, seed_texts


def test_cases_are_replayable_and_varied():
    cases = [mutated_cases(k) for k in range(40)]
    assert cases == [mutated_cases(k) for k in range(40)]
    originals = dict(seed_texts())
    assert all(text != originals[label] for label, text, _ in cases)
    assert len({label for label, _, _ in cases}) == len(seed_texts())  # every seed file is used
    assert {"network2.py", "Rust-NN"} <= {label.split("(")[-1].rstrip(")") for label in originals}


def test_outcome_applies_the_contract():
    for label, text in seed_texts():
        assert outcome(text, name=label) == "answered", label
    text = dict(seed_texts())["c2.json"]
    assert outcome(text[: len(text) // 2], name="half") == "refused"
    doc = json.loads(text)
    doc["layers"][0]["weight"]["shape"] = [3, 3]
    assert outcome(json.dumps(doc), name="misshapen") == "refused"
