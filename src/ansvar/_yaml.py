"""YAML loading that is strict about booleans and remembers where every node came from.

PyYAML follows YAML 1.1, where `on`, `off`, `yes`, `no`, `y` and `n` silently become booleans (a key `on:`
turns into `True`). Here only `true` and `false` are booleans; every other such word stays a string, so a
wrong value meets a clear type error instead of becoming a boolean nobody wrote. Duplicate keys, aliases
and non-string keys are refused with their line and column, as are more nodes than any file needs; no
message repeats a key, tag or value of the text unless it has the shape of an id (the text may hold a CPR
number or a name). `read` reads only regular files.

`SpecFile` (rule and event files, never a situation) keeps what it parsed in ansvar's cache folder
(`ansvar._cache`), by a hash of the file's bytes and of this loader, and a fresh process reads it back
instead of parsing again: the same values at the same positions, and every schema check still runs on them.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import hashlib
import json
import os
import re
import stat
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from ansvar import _cache
from ansvar.errors import RuleError, describe, field, shown

_BOOL_TAG = "tag:yaml.org,2002:bool"


#: Deeper nesting than any rule file or situation needs is refused (the shipped packs nest 8 levels).
MAX_DEPTH = 64
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
#: More nodes (keys, values, lists, mappings) than any rule file or situation needs are refused while the
#: text is read, before anything is built: the largest shipped file has ~1,300, a tiny 2 MB file ~1,000,000,
#: and building each costs ~10 µs.
MAX_NODES = 100_000
_TOO_MANY = f"more than {MAX_NODES:,} YAML nodes (keys and values); far more than any rule file or situation"


class YamlProblem(Exception):  # noqa: N818 - internal; callers turn it into RuleError or SituationError
    """A YAML text that does not load, with the 1-based line and column of the problem."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(message)


class LocatedDict(dict[Any, Any]):
    """A mapping that remembers the position of each of its values."""

    positions: dict[Any, tuple[int, int]]
    key_positions: dict[Any, tuple[int, int]]
    position: tuple[int, int]


class LocatedList(list[Any]):
    """A sequence that remembers the position of each of its items."""

    positions: list[tuple[int, int]]
    position: tuple[int, int]


def with_entries(mapping: LocatedDict, entries: Mapping[str, Any], at: tuple[int, int] | None = None,
                 ) -> LocatedDict:
    """A copy of `mapping` with `entries` set; an entry it did not hold is placed at `at` (default: itself).

    For data filled in from elsewhere (a layer's shared text or rule): errors about it point at `at`.
    """
    copy = LocatedDict(mapping)
    copy.position = mapping.position
    copy.positions = dict(mapping.positions)
    copy.key_positions = dict(mapping.key_positions)
    for key, value in entries.items():
        if key not in mapping:
            copy.positions[key] = copy.key_positions[key] = at or mapping.position
        copy[key] = value
    return copy


def with_items(sequence: LocatedList, items: Sequence[Any]) -> LocatedList:
    """A copy of `sequence` holding `items` instead (as many), at the same positions."""
    copy = LocatedList(items)
    copy.position = sequence.position
    copy.positions = list(sequence.positions)
    return copy


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def kind_of(value: object) -> str:
    """What a YAML value is, in words, without the value (which may be a CPR number or a name).

    >>> kind_of(3112901234), kind_of(["Jens Hansen"])
    ('a number', 'a list')
    """
    kinds = {str: "a string", bool: "true or false", int: "a number", float: "a number",
             dt.datetime: "a date and time", dt.date: "a date", type(None): "null", list: "a list",
             dict: "a mapping"}
    return next((words for kind, words in kinds.items() if isinstance(value, kind)), "a value")


#: Scalars PyYAML builds by their tag, and what a value that is none says (`!!int Jens` must not say Jens).
_SCALARS = {"bool": "not true or false", "int": "not a whole number, or too long a one",
            "float": "not a number", "timestamp": "not a valid date"}

#: What the scanner and parser of LibYAML (the loader used by default) and of PyYAML say without quoting the
#: text: only these are repeated. The others (PyYAML's own scanner quotes what it found: a character, a tag
#: handle, an anchor) are said as "YAML syntax error" with their line and column, or as below.
_SYNTAX = frozenset({
    "block sequence entries are not allowed in this context", "could not find expected ':'",
    "could not find expected directive name", "did not find URI escaped octet", "did not find expected '!'",
    "did not find expected ',' or ']'", "did not find expected ',' or '}'",
    "did not find expected '-' indicator", "did not find expected <document start>",
    "did not find expected alphabetic or numeric character", "did not find expected comment or line break",
    "did not find expected digit or '.' character", "did not find expected hexdecimal number",
    "did not find expected key", "did not find expected node content", "did not find expected tag URI",
    "did not find expected version number", "did not find expected whitespace",
    "did not find expected whitespace or line break", "did not find the expected '>'",
    "expected indentation indicator in the range 1-9, but found 0",
    "found a tab character that violates indentation",
    "found a tab character where an indentation space is expected",
    "found an indentation indicator equal to 0", "found character that cannot start any token",
    "found duplicate %TAG directive", "found duplicate %YAML directive", "found duplicate YAML directive",
    "found extremely long version number", "found incompatible YAML document",
    "found incompatible YAML document (version 1.* is required)",
    "found invalid Unicode character escape code", "found non-specific tag '!'", "found undefined tag handle",
    "found unexpected ':'", "found unexpected document indicator", "found unexpected document separator",
    "found unexpected end of stream", "found unexpected non-alphabetical character",
    "found unknown directive name", "found unknown escape character", "incompatible %YAML directive",
    "invalid indentation or unclosed '[' or '{'", "mapping keys are not allowed here",
    "mapping values are not allowed here", "mapping values are not allowed in this context",
    "sequence entries are not allowed here",
})
#: PyYAML's messages that quote what they found, by how they start: said as LibYAML says them.
_QUOTING = {
    "found character ": "found character that cannot start any token",
    "found unknown escape character ": "found unknown escape character",
    "found undefined tag handle ": "found undefined tag handle",
    "expected alphabetic or numeric character": "did not find expected alphabetic or numeric character",
    "expected ',' or ']'": "did not find expected ',' or ']'",
    "expected ',' or '}'": "did not find expected ',' or '}'",
}


def _syntax(exc: yaml.MarkedYAMLError) -> str:
    """A scanner, parser or composer error in ansvar's words: never a text that may quote the file."""
    problem = exc.problem or ""
    if problem in _SYNTAX:
        return f"YAML syntax error: {problem}"
    said = next((words for start, words in _QUOTING.items() if problem.startswith(start)), None)
    if said is not None:
        return f"YAML syntax error: {said}"
    if isinstance(exc, yaml.composer.ComposerError):
        if problem == "but found another document":
            return "more than one YAML document (---): a file holds one"
        if problem == "second occurrence":
            return "an anchor (&name) is defined twice"
    return "YAML syntax error"


if TYPE_CHECKING:  # the mixin reads PyYAML's loader API; at run time it sits before either loader's classes
    _Loader = yaml.SafeLoader
else:
    _Loader = object


class _Strict(_Loader):
    """YAML 1.2 booleans, no aliases, no duplicate keys, bounded nesting, and positions on every node."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class-level registry, copied not shared
        first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    depth = 0
    nodes = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise YamlProblem("aliases (*name) are not allowed", event.start_mark.line + 1,
                              event.start_mark.column + 1)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise YamlProblem(_TOO_MANY, event.start_mark.line + 1, event.start_mark.column + 1)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:  # PyYAML composes recursively: refuse before Python's stack gives out
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise YamlProblem(_TOO_DEEP, event.start_mark.line + 1, event.start_mark.column + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> LocatedDict:  # noqa: FBT001, FBT002, ARG002 - PyYAML's signature; values are always built deep
        if not isinstance(node, MappingNode):
            raise YamlProblem("expected a mapping", *_pos(node))
        self.flatten_mapping(node)
        result = LocatedDict()
        result.positions = {}
        result.key_positions = {}
        result.position = _pos(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):  # never the key itself: `3112901234:` is a CPR number
                hint = "" if isinstance(key, list | dict) else " (quote it to make it a string)"
                raise YamlProblem(f"keys must be strings; this one is {kind_of(key)}{hint}", *_pos(key_node))
            if key in result:
                raise YamlProblem(f"duplicate key {shown(key)}", *_pos(key_node))
            result[key] = self.construct_object(value_node, deep=True)
            result.positions[key] = _pos(value_node)
            result.key_positions[key] = _pos(key_node)
        return result

    def construct_located_sequence(self, node: SequenceNode) -> LocatedList:
        result = LocatedList(self.construct_object(child, deep=True) for child in node.value)
        result.positions = [_pos(child) for child in node.value]
        result.position = _pos(node)
        return result

    def construct_located_map(self, node: MappingNode) -> Iterator[LocatedDict]:
        # Two-step construction, as PyYAML does, so recursive structures still resolve.
        yield self.construct_mapping(node)


class _StrictLoader(_Strict, yaml.SafeLoader):
    """The strict loader on PyYAML's pure-Python scanner and parser."""


_LOADERS: list[type[Any]] = [_StrictLoader]

if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]

    class _FastStrictLoader(_Strict, yaml.composer.Composer, _CParser,
                            yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """The same strict loader on LibYAML's scanner and parser (C; the rule files load ~5x faster).

        Composition stays in Python (`Composer` comes before `CParser`), so the alias and nesting checks
        above see every node as LibYAML's parser reports it.
        """

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _LOADERS.append(_FastStrictLoader)


def _checked(construct: Callable[[Any, Node], Any], words: str) -> Callable[[Any, Node], Any]:
    """PyYAML's constructor of a scalar, refusing a value it cannot build with `words` at its position.

    PyYAML's own errors quote the value (`invalid literal for int() with base 10: 'Jens'`), or are no
    errors of its own at all (`!!bool Jens` is a KeyError, `!!timestamp Jens` an AttributeError).
    """

    def constructor(loader: Any, node: Node) -> Any:  # noqa: ANN401 - whatever the scalar is
        try:
            return construct(loader, node)
        except (ValueError, KeyError, AttributeError, TypeError):
            raise YamlProblem(words, *_pos(node)) from None

    return constructor


for _loader in _LOADERS:
    _loader.add_implicit_resolver(
        _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"),
    )
    _loader.add_constructor("tag:yaml.org,2002:map", _Strict.construct_located_map)
    _loader.add_constructor("tag:yaml.org,2002:seq", _Strict.construct_located_sequence)
    for _tag, _words in _SCALARS.items():
        _loader.add_constructor(f"tag:yaml.org,2002:{_tag}",
                                _checked(_loader.yaml_constructors[f"tag:yaml.org,2002:{_tag}"], _words))
    # Sets, binary data and ordered pairs are YAML, but no rule file or situation has any use for them.
    for _tag in ("set", "binary", "omap", "pairs"):
        _loader.yaml_constructors.pop(f"tag:yaml.org,2002:{_tag}", None)

_LOADER = _LOADERS[-1]


def read(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of the regular file at `path`, for `load`; `OSError` if it cannot be read.

    Only a regular file is read: a FIFO would block until something writes to it (for ever), and a device
    or folder holds no rule file or situation; either is an `OSError` saying "not a regular file". The file
    is checked before it is opened (opening a device may act on it) and again once open, without blocking,
    in case it was replaced in between.
    """
    if not stat.S_ISREG(path.stat().st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with open(fd, "rb", closefd=False) as handle:  # the descriptor just checked
            return handle.read(limit + 1)
    finally:
        os.close(fd)


def load(text: str | bytes) -> Any:  # noqa: ANN401 - YAML holds any value
    """Parse one YAML document strictly; raise `YamlProblem` with a position on any problem.

    >>> load("on: yes")
    {'on': 'yes'}
    >>> load("a: true")["a"]
    True
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlProblem(f"not UTF-8 text (byte {exc.start})", None, None) from None
    loader: Any = None
    try:
        loader = _LOADER(text)  # the reader refuses control characters already here
        return loader.get_single_data()
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        if "nesting depth" in (exc.problem or ""):
            # LibYAML's scanner reads ahead and stops at its own depth limit (1,000 levels, since PyYAML
            # 6.0.4) before the composer above counts level 65: one refusal, in ansvar's words, either way.
            raise YamlProblem(_TOO_DEEP, line, column) from None
        if isinstance(exc, ConstructorError):  # PyYAML names the tag, and a tag may be anything: `!Jens`
            raise YamlProblem("unsupported tag: only plain YAML values (no !tags)", line, column) from None
        raise YamlProblem(_syntax(exc), line, column) from None
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(f"unacceptable character #x{exc.character:04x}", None, None) from None
    except (yaml.YAMLError, ValueError):  # PyYAML's text may quote the file: its words are not repeated
        raise YamlProblem("not readable as YAML", None, None) from None
    finally:
        if loader is not None:
            loader.dispose()


# --- parsed files kept on disk ----------------------------------------------------------------------------
#
# A parsed file as JSON, every node that is no plain scalar an object whose first member "" says what it is:
# a mapping {"": ["m", line, column, then key line, key column, value line, value column of each entry],
# then each key: its value}, a list {"": ["l", line, column, then line, column of each item], "i": [items]},
# a date {"": ["d", ISO text]}, a date and time {"": ["t", ISO text]}. Strings, numbers, booleans and null
# are themselves. JSON's own parser builds it; one call per object turns it into located values.

_PARSED = "parsed"
_PARSED_FORMAT = 1


@functools.cache
def _loader_digest() -> str:
    """What parsing depends on besides the text: this module's source, PyYAML's version, the parser."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(f"\0{yaml.__version__}\0{_LOADER.__name__}\0{_PARSED_FORMAT}".encode())
    return digest.hexdigest()


def _encoded(value: Any) -> Any:  # noqa: ANN401 - YAML holds any value
    kind = type(value)
    if kind is LocatedDict:
        if "" in value:
            raise TypeError("''")  # the key "" would meet the tag: such a file is parsed each time, not kept
        meta: list[Any] = ["m", *value.position]
        for key in value:
            meta += (*value.key_positions[key], *value.positions[key])
        return {"": meta, **{key: _encoded(item) for key, item in value.items()}}
    if kind is LocatedList:
        meta = ["l", *value.position]
        for at in value.positions:
            meta += at
        return {"": meta, "i": [_encoded(item) for item in value]}
    if kind is dt.date:
        return {"": ["d", value.isoformat()]}
    if kind is dt.datetime:
        return {"": ["t", value.isoformat()]}
    if kind in (str, int, float, bool) or value is None:
        return value
    raise TypeError(kind.__name__)  # nothing else is built by the loader above: such a file is not kept


def _decoded(pairs: list[tuple[str, Any]]) -> Any:  # noqa: ANN401 - JSON data
    """One JSON object of the form above as the value it stands for (its members are decoded already)."""
    name, meta = pairs[0]
    if name or type(meta) is not list:
        raise ValueError
    tag = meta[0]
    if tag == "m":
        mapping = LocatedDict(pairs[1:])
        keys = list(mapping)
        if (len(keys) != len(pairs) - 1 or len(meta) != 3 + 4 * len(keys)
                or not set(map(type, meta[1:])) <= {int} or list in set(map(type, mapping.values()))):
            raise ValueError  # a key twice, positions that do not fit, or a bare JSON list (never written)
        mapping.position = (meta[1], meta[2])
        mapping.key_positions = dict(zip(keys, zip(meta[3::4], meta[4::4], strict=True), strict=True))
        mapping.positions = dict(zip(keys, zip(meta[5::4], meta[6::4], strict=True), strict=True))
        return mapping
    if tag == "l":
        ((name, items),) = pairs[1:]
        if (name != "i" or type(items) is not list or len(meta) != 3 + 2 * len(items)
                or not set(map(type, meta[1:])) <= {int} or list in set(map(type, items))):
            raise ValueError
        sequence = LocatedList(items)
        sequence.position = (meta[1], meta[2])
        sequence.positions = list(zip(meta[3::2], meta[4::2], strict=True))
        return sequence
    if tag in ("d", "t") and len(pairs) == 1:
        _, text = meta
        return dt.date.fromisoformat(text) if tag == "d" else dt.datetime.fromisoformat(text)
    raise ValueError


def parsed_key(raw: bytes) -> str:
    """The name of the entry that keeps the parse of the text `raw`: its bytes and this loader, hashed."""
    return hashlib.sha256(_loader_digest().encode() + b"\0" + raw).hexdigest()


def parsed(raw: bytes) -> Any:  # noqa: ANN401 - YAML holds any value
    """`load(raw)` of a rule or event file, read back from the cache folder when this text was parsed before.

    Only a file that loads is kept; a kept entry that does not decode is ignored and the text parsed again.
    Never for a situation: nothing of a citizen is written to disk.
    """
    try:
        key = parsed_key(raw)
    except OSError:  # this module's source is not readable (a frozen install): parse, keep nothing
        return load(raw)
    body = _cache.read(_PARSED, key, _PARSED_FORMAT)
    if body is not None:
        try:
            data = json.loads(body, object_pairs_hook=_decoded)
            if type(data) is not list:  # a bare JSON list is never written
                return data
        except (ValueError, TypeError, IndexError, KeyError, RecursionError):
            pass
    data = load(raw)
    try:
        text = json.dumps(_encoded(data), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return data
    _cache.write(_PARSED, key, _PARSED_FORMAT, text.encode())
    return data


def position(data: Any, loc: Sequence[Any], *, key: bool = False) -> tuple[int, int] | None:  # noqa: ANN401
    """The (line, column) of the deepest node reachable along `loc` (a pydantic error location).

    With `key`, a location ending in a mapping key points at the key rather than its value.
    """
    found = getattr(data, "position", None)
    for number, part in enumerate(loc):
        if isinstance(data, LocatedDict) and isinstance(part, str) and part in data:
            last = number == len(loc) - 1
            found = data.key_positions[part] if key and last else data.positions[part]
            data = data[part]
        elif isinstance(data, LocatedList) and isinstance(part, int) and 0 <= part < len(data):
            found = data.positions[part]
            data = data[part]
        # other parts are pydantic's own (union tags, validator names): skip them, keep walking
    return found


#: The largest shipped pack is ~20 kB; a file far larger is a mistake or an attack.
MAX_FILE_BYTES = 2_000_000
MAX_SCHEMA_ERRORS = 100  # schema errors of one file reported one by one; past them, only their number
_M = TypeVar("_M", bound=BaseModel)


class SpecFile:
    """One YAML file of rules or events: its bytes, its located data, and `RuleError`s pointing into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.raw = read(path, MAX_FILE_BYTES)  # a regular file only: a FIFO would hang here
        except OSError as exc:
            raise RuleError(f"cannot read: {exc.strerror}", path) from None
        if len(self.raw) > MAX_FILE_BYTES:
            raise RuleError(f"larger than {MAX_FILE_BYTES} bytes: not a rule file", path)
        try:
            self.data: Any = parsed(self.raw)
        except YamlProblem as exc:
            raise RuleError(exc.message, path, exc.line, exc.column) from None

    def error(self, message: str, loc: Sequence[Any] = (), *, key: bool = False) -> RuleError:
        """A RuleError at the node `loc` names (a pydantic location); with `key`, at its key."""
        return self.at(message, position(self.data, loc, key=key))

    def at(self, message: str, where: tuple[int, int] | None) -> RuleError:
        """A RuleError at a (line, column) of this file."""
        line, column = where or (None, None)
        return RuleError(message, self.path, line, column)

    def validate(self, model: type[_M], data: Any = None, at: tuple[Any, ...] = ()) -> _M:  # noqa: ANN401
        """The file's data (or `data`, which sits at `at` in the file) as `model`.

        Every schema problem is a RuleError at its position: the first is raised, carrying them all.
        """
        data = self.data if data is None else data
        if not isinstance(data, Mapping):
            raise self.error("the file must hold a mapping at its top")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            found = []
            for error in errors[:MAX_SCHEMA_ERRORS]:  # each is worded and located; a flood of them is counted
                loc = (*at, *error["loc"])
                at_key = loc[-1:] == ("[key]",)  # pydantic's mark for a mapping's key that is wrong
                loc = loc[:-1] if at_key else loc
                shown_at = ".".join(str(field(p)) for p in loc) or "(top)"
                message = describe(error, _keys(model))
                message = f"the key {message}" if at_key else message
                found.append(self.error(f"{shown_at}: {message}", loc,
                                        key=at_key or error["type"] == "extra_forbidden"))
            if len(errors) > MAX_SCHEMA_ERRORS:
                rest = len(errors) - MAX_SCHEMA_ERRORS
                found.append(RuleError(f"and {rest} more schema problems, not listed", self.path))
            first = found[0]
            if len(errors) > 1:
                first = RuleError(f"{first.message} (and {len(errors) - 1} more)", first.path, first.line,
                                  first.column)
            first.all = found
            raise first from None


@functools.cache
def _keys(model: type[BaseModel]) -> tuple[str, ...]:
    """Every key a file of `model` may hold anywhere (for suggesting what a misspelt key meant)."""
    found: dict[str, None] = {}
    todo: list[Any] = [model]
    seen: set[type[BaseModel]] = set()
    while todo:
        kind = todo.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if kind in seen:
                continue
            seen.add(kind)
            for name, info in kind.model_fields.items():
                found[info.alias or name] = None
                todo.append(info.annotation)
        else:
            todo.extend(typing.get_args(kind))
    return tuple(found)
