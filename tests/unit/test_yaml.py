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


@pytest.mark.parametrize("loader", _yaml._LOADERS, ids=lambda loader: loader.__name__)
@pytest.mark.parametrize("depth", [_yaml.MAX_DEPTH, 100, 1001, 5000])
@pytest.mark.parametrize("shape", ["flow", "block"])
def test_deep_nesting_is_one_refusal_in_ansvars_words(monkeypatch: pytest.MonkeyPatch, loader: type,
                                                      depth: int, shape: str) -> None:
    """Nodes nested past MAX_DEPTH levels are refused with ansvar's message and a position, on either loader
    and at any depth (LibYAML's own depth limit, which it hits first past 1,000 levels, says the same)."""
    monkeypatch.setattr(_yaml, "_LOADER", loader)
    if shape == "flow":
        text = "rules: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "".join(f"{'  ' * level}k:\n" for level in range(depth)) + f"{'  ' * depth}1\n"
    with pytest.raises(_yaml.YamlProblem) as caught:
        _yaml.load(text)
    assert caught.value.message == f"nested more than {_yaml.MAX_DEPTH} levels deep"
    assert caught.value.line is not None
    assert caught.value.column is not None


@pytest.mark.parametrize("loader", _yaml._LOADERS, ids=lambda loader: loader.__name__)
def test_nesting_up_to_the_limit_loads(monkeypatch: pytest.MonkeyPatch, loader: type) -> None:
    """Nodes nested MAX_DEPTH levels deep load, on either loader."""
    monkeypatch.setattr(_yaml, "_LOADER", loader)
    depth = _yaml.MAX_DEPTH - 1  # lists inside the top mapping: MAX_DEPTH levels in all
    data = _yaml.load("rules: " + "[" * depth + "]" * depth + "\n")["rules"]
    for _ in range(depth - 1):
        (data,) = data
    assert data == []
