"""Strict YAML: only true/false are booleans; no aliases, duplicates or python tags."""

from __future__ import annotations

import pytest

from ansvar import _yaml


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "y", "n", "Yes", "ON"])
def test_yaml11_words_stay_strings(word: str) -> None:
    """YAML 1.1's boolean words are strings, as keys and as values."""
    assert _yaml.load(f"{word}: {word}") == {word: word}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("True", True), ("FALSE", False)])
def test_true_false_are_booleans(text: str, value: bool) -> None:
    """true and false (any case YAML 1.2 allows) are booleans."""
    assert _yaml.load(f"a: {text}")["a"] is value


@pytest.mark.parametrize(("text", "message", "line"), [
    ("a: 1\na: 2\n", "duplicate key 'a'", 2),
    ("a: &x 1\nb: *x\n", "aliases", 2),
    ("a: !!python/object/apply:os.system [ls]\n", "unsupported tag", 1),
    ("a: [1\n", "YAML syntax error", 2),
])
def test_refused_with_position(text: str, message: str, line: int) -> None:
    """What the loader refuses, it refuses with a line."""
    with pytest.raises(_yaml.YamlProblem, match=message) as caught:
        _yaml.load(text)
    assert caught.value.line == line


def test_not_utf8() -> None:
    """Bytes that are not UTF-8 are refused."""
    with pytest.raises(_yaml.YamlProblem, match="not UTF-8"):
        _yaml.load(b"a: \xff")


def test_positions() -> None:
    """Every value's position is kept, for error messages."""
    data = _yaml.load("a:\n  - x: 1\n  - y: 2\n")
    assert _yaml.position(data, ("a", 1, "y")) == (3, 8)
    assert _yaml.position(data, ("a", 1, "y"), key=True) == (3, 5)
