"""Finds rule layers on disk, validates their packs, and composes each municipality's packs for the engine.

A rule directory holds one folder per layer (or is itself one): `layer.yaml` plus one `<event>.yaml` per
event the layer speaks to. Layers chain by `inherits` (a municipality inherits its region, the region the
national law), across all the directories given, so a user's own folder may add a municipality under the
shipped region. A municipality covers an event when some layer of its chain has a standalone pack for it;
its pack for that event is the rules of every layer of the chain, top down, where a lower layer's rule
replaces an inherited one only with `overrides: <layer>` and drops one only through `omit:`.
Any problem raises `RuleError` with the file, line and column.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansvar import _yaml
from ansvar._yaml import SpecFile as _File
from ansvar.engine import MAX_ENGINE_RULES, RESERVED_NAMES, EngineLimitError, Ruleset
from ansvar.errors import RuleError, is_id, suggest
from ansvar.model.events import (
    EVENTS_FOLDER,
    EventDefinition,
    EventDefinitions,
    FactType,
    shipped_definitions,
)
from ansvar.packs import names
from ansvar.packs.compiler import CompiledRule, ConditionError, Test, parse_condition, to_ruleset
from ansvar.packs.names import CATCH_ALL
from ansvar.packs.schema import (
    ACTORS,
    ROUTING_DATE,
    SHARED_PARTS,
    ActorSpec,
    LayerFile,
    PackMeta,
    RuleFile,
    RuleSpec,
    SharedRule,
)

LAYER_FILE = "layer.yaml"


class Problems:
    """Where load errors go: raised at once (routing), or gathered to report every one (`ansvar check`)."""

    def __init__(self, *, collect: bool = False) -> None:
        self.collect = collect
        self.found: list[RuleError] = []

    @contextlib.contextmanager
    def gather(self) -> Iterator[None]:
        """Run a step of loading: its RuleError is raised, or recorded and the step skipped."""
        try:
            yield
        except RuleError as exc:
            if not self.collect:
                raise
            self.found.extend(exc.all or [exc])


@dataclass(frozen=True, slots=True)
class LayerText:
    """A layer's one text for an action (`texts:` of its layer.yaml), and where it is written."""

    text: str
    layer: str
    where: str = field(repr=False)


@dataclass(frozen=True, slots=True, eq=False)
class Layer:
    """A layer of rules (national law, a region, a municipality): its file, parent and actors."""

    id: str
    path: Path
    spec: LayerFile
    file: _File = field(repr=False)
    parent: Layer | None
    actors: Mapping[str, ActorSpec] = field(repr=False)
    #: The text of each action (`actor.action`) a step may leave out: the nearest layer's `texts:` entry.
    texts: Mapping[str, LayerText] = field(default_factory=dict, repr=False)
    #: The rule bodies of this layer's `rules:`, which its packs' rules take with `use:`.
    shared: Mapping[str, SharedRule] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        """national, region or municipality."""
        return self.spec.kind

    def chain(self) -> tuple[Layer, ...]:
        """The layers from the top (national) down to this one."""
        out: list[Layer] = []
        layer: Layer | None = self
        while layer is not None:
            out.append(layer)
            layer = layer.parent
        return tuple(reversed(out))


@dataclass(frozen=True, slots=True, eq=False)
class LayerPack:
    """One layer's rules for one event, validated and with conditions parsed (not yet in the engine)."""

    path: Path
    file: _File = field(repr=False)
    spec: RuleFile = field(repr=False)
    layer: Layer
    compiled: Mapping[str, CompiledRule] = field(repr=False)
    places: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        places: dict[str, int] = {}
        for index, rule in enumerate(self.spec.rules):
            places.setdefault(rule.id, index)
        object.__setattr__(self, "places", places)  # asked once per rule when composing: no search per rule

    @property
    def meta(self) -> PackMeta:
        """The pack header: document, version, dates, section."""
        return self.spec.pack

    def rule_loc(self, rule_id: str) -> tuple[Any, ...]:
        """Where a rule of this pack sits in its file, for error positions."""
        return ("rules", self.places[rule_id])


@dataclass(slots=True)
class Pack:
    """A municipality's rules for one event, every layer of its chain composed, loaded into the engine."""

    municipality: Layer
    event: str
    parts: tuple[LayerPack, ...]
    rules: dict[str, RuleSpec]
    origin: dict[str, LayerPack]
    compiled: dict[str, CompiledRule]
    definition: EventDefinition
    content_hash: str
    ruleset: Ruleset = field(repr=False)
    #: Each rule's place in firing order (the engine fires by it; see `ansvar.packs.compiler.to_ruleset`).
    place: Mapping[str, int] = field(repr=False)

    @property
    def notice(self) -> str | None:
        """What the guide says of its own standing: from the nearest layer of the chain that says it."""
        return next((layer.spec.notice for layer in reversed(self.municipality.chain()) if layer.spec.notice),
                    None)

    @property
    def meta(self) -> PackMeta:
        """The header of the most specific layer's pack (the municipality's own, where it has one)."""
        return self.parts[-1].meta

    @property
    def path(self) -> Path:
        """The file of the most specific layer's pack."""
        return self.parts[-1].path

    @property
    def facts(self) -> Mapping[str, FactType]:
        """The facts its rules may read, with their types."""
        return self.definition.fact_types

    @property
    def key(self) -> tuple[str, str]:
        """(municipality, event)."""
        return self.municipality.id, self.event

    @property
    def actors(self) -> Mapping[str, ActorSpec]:
        """The municipality's actors, inherited names and contacts included."""
        return self.municipality.actors


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything loaded from some rule directories: layers, their packs, and the composed packs."""

    layers: Mapping[str, Layer]
    layer_packs: Mapping[tuple[str, str], LayerPack]
    packs: Mapping[tuple[str, str], Pack]
    events: EventDefinitions

    def files(self) -> dict[Path, bytes]:
        """Every rule file this catalogue was loaded from, with the bytes that were read."""
        found = {layer.file.path: layer.file.raw for layer in self.layers.values()}
        found.update((pack.path, pack.file.raw) for pack in self.layer_packs.values())
        return found


def find_layer_dirs(rule_dirs: Iterable[Path], problems: Problems | None = None) -> list[Path]:
    """Every layer folder under the given rule directories, in order."""
    problems = problems or Problems()
    found: dict[Path, Path] = {}  # by resolved path: a folder given twice (rules/ and rules/aalborg) is one

    def layer_folder(folder: Path) -> bool:
        if (folder / LAYER_FILE).exists():  # a layer.yaml that is no regular file is refused when read
            found.setdefault(folder.resolve(), folder)
            return True
        if any(folder.glob("*.yaml")):
            hint = (" (actors.yaml became layer.yaml with `layer:` and `kind:`; see docs/rule-format.md)"
                    if (folder / "actors.yaml").is_file() else "")
            with problems.gather():
                raise RuleError(f"a folder of rule files without {LAYER_FILE}{hint}", folder)
            return True
        return False

    for base in rule_dirs:
        if not base.is_dir():
            with problems.gather():
                raise RuleError("not a directory of rule packs", base)
            continue
        if layer_folder(base):
            continue
        for folder in sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))):
            layer_folder(folder)
    return list(found.values())


def load(rule_dirs: Iterable[Path], problems: Problems | None = None,
         events: EventDefinitions | None = None) -> Catalogue:
    """Load every layer and pack under `rule_dirs` and compose each municipality's packs.

    By default the first problem raises; with `Problems(collect=True)` every problem is recorded there
    and whatever loads cleanly is still returned (a broken file, and what depends on it, is left out).
    `events`: the events the layers' own add to (default: the shipped ones).
    """
    problems = problems or Problems()
    layers = _load_layers(find_layer_dirs(rule_dirs, problems), problems)
    events = _load_events(layers.values(), problems, events or shipped_definitions())
    layer_packs: dict[tuple[str, str], LayerPack] = {}
    for layer in layers.values():
        for path in sorted(layer.path.glob("*.yaml")):
            if path.name != LAYER_FILE:
                pack = load_layer_pack(path, layer, problems, events)
                if pack is not None:
                    layer_packs[layer.id, pack.meta.event] = pack
    packs: dict[tuple[str, str], Pack] = {}
    for layer in layers.values():
        chain = layer.chain()
        ids = {x.id for x in chain}
        for event in sorted({e for (owner, e) in layer_packs if owner in ids}):
            parts = tuple(layer_packs[x.id, event] for x in chain if (x.id, event) in layer_packs)
            with problems.gather():
                rules, origin = compose(parts)  # every layer's composition is checked, not only towns'
                if layer.kind == "municipality" and any(p.meta.standalone for p in parts):
                    packs[layer.id, event] = _build(layer, events[event], parts, rules, origin)
    return Catalogue(layers, layer_packs, packs, events)


def _load_events(layers: Iterable[Layer], problems: Problems, events: EventDefinitions) -> EventDefinitions:
    """`events`, and those the layers bring (`<layer>/events/<event>.yaml`), each defined once."""
    for layer in layers:
        for path in sorted((layer.path / EVENTS_FOLDER).glob("*.yaml")):
            with problems.gather():
                events = events.with_files([path], reserved=RESERVED_NAMES)
    return events


def _load_layers(folders: Iterable[Path], problems: Problems) -> dict[str, Layer]:
    files: dict[str, tuple[Path, _File, LayerFile]] = {}
    for folder in folders:
        with problems.gather():
            file = _File(folder / LAYER_FILE)
            spec = file.validate(LayerFile)
            if spec.layer != folder.name:
                raise file.error(f"layer {spec.layer!r} does not match its folder {folder.name!r}",
                                 ("layer",))
            if spec.layer in files:
                raise file.error(f"layer {spec.layer!r} is also defined in {files[spec.layer][0]}",
                                 ("layer",))
            for actor in spec.actors:
                if actor not in ACTORS:
                    raise file.error(f"unknown actor {actor!r}{suggest(actor, ACTORS)}", ("actors", actor))
            files[spec.layer] = (folder, file, spec)
    layers: dict[str, Layer] = {}
    broken: set[str] = set()  # layers refused, with every layer below them: each problem is reported once
    for layer_id in files:
        with problems.gather():
            _resolve(layer_id, files, layers, broken)
    return layers


def _resolve(layer_id: str, files: Mapping[str, tuple[Path, _File, LayerFile]], layers: dict[str, Layer],
             broken: set[str]) -> None:
    """Build the layer `layer_id` and every layer above it into `layers`: up `inherits` in a loop, then down.

    A valid chain is at most three layers (national, region, municipality: each inherits a kind above its
    own), but a chain of any length and a circle of any size are refused with a RuleError, never by running
    out of stack. A refused layer goes into `broken` with every layer below it, so that each problem is
    reported once and no chain is walked twice.
    """
    up: list[str] = []  # layer_id, its parent, ...: up to a layer built already, or one that inherits none
    seen: set[str] = set()
    current: str | None = layer_id
    try:
        while current is not None and current not in layers:
            if current in broken:  # refused already, with its problem: so is every layer below it
                broken.update(up)
                return
            up.append(current)
            seen.add(current)
            _, file, spec = files[current]
            parent = spec.inherits
            if parent is not None and parent in seen:
                raise file.error(f"layers inherit in a circle: {_circle([*up, parent])}", ("inherits",))
            if parent is not None and parent not in files:
                raise file.error(f"inherits unknown layer {parent!r}{suggest(parent, files)}; give its rule "
                                 "directory too (e.g. Router([shipped_rules(), ...]))", ("inherits",))
            current = parent
        for name in reversed(up):
            folder, file, spec = files[name]
            above = layers[spec.inherits] if spec.inherits is not None else None
            if above is not None and not LayerFile.may_inherit(spec.kind, above.kind):
                raise file.error(f"a {spec.kind} layer cannot inherit from the {above.kind} layer "
                                 f"{above.id!r}", ("inherits",))
            actors: dict[str, ActorSpec] = dict(above.actors) if above else {}
            for actor, own in spec.actors.items():
                inherited = actors.get(actor)
                actors[actor] = own if own.contact is not None or inherited is None else ActorSpec(
                    name=own.name, contact=inherited.contact)
            texts = _layer_texts(file, spec, actors, above)
            shared: dict[str, SharedRule] = {}
            layer = Layer(spec.layer, folder, spec, file, above, actors, texts, shared)
            shared.update(_shared_rules(layer))
            layers[name] = layer
    except RuleError:
        broken.update(name for name in up if name not in layers)
        raise


def _circle(names: Sequence[str]) -> str:
    """`a -> b -> a`; a long circle by its first and last few layers, and its length."""
    if len(names) <= 8:
        return " -> ".join(names)
    return f"{' -> '.join(names[:4])} -> ... ({len(names) - 7} more) -> {' -> '.join(names[-3:])}"


def _layer_texts(file: _File, spec: LayerFile, actors: Mapping[str, ActorSpec], parent: Layer | None,
                 ) -> dict[str, LayerText]:
    """The texts a step of this layer may leave out: its own `texts:` over those of the layers above."""
    texts = dict(parent.texts) if parent is not None else {}
    for key, text in spec.texts.items():
        actor = key.partition(".")[0]
        if actor not in actors:
            hint = suggest(actor, actors) or (
                f" (a contract actor, but no {LAYER_FILE} of layer {spec.layer!r} or above names it)"
                if actor in ACTORS else "")
            raise file.error(f"texts: unknown actor {actor!r}{hint}", ("texts", key), key=True)
        line = (_yaml.position(file.data, ("texts", key), key=True) or (0, 0))[0]
        texts[key] = LayerText(text, spec.layer, f"{file.path}:{line}")
    return texts


def _shared_rules(layer: Layer) -> dict[str, SharedRule]:
    """The rule bodies of a layer's `rules:`, steps given their layer's texts, checked in layer.yaml."""
    file = layer.file
    found: list[RuleError] = []
    shared: dict[str, SharedRule] = {}
    for rule_id in layer.spec.rules:
        loc = ("rules", rule_id)
        body = file.data["rules"][rule_id]
        try:
            if "steps" in body:
                steps = _with_texts(file, body["steps"], (*loc, "steps"), layer)
                body = _yaml.with_entries(body, {"steps": steps})
            rule = file.validate(SharedRule, body, loc)
            _check_actors(file, layer, rule, loc)
            if layer.kind == "municipality":  # a town's actors are final: so are the contacts its steps show
                for number, step in enumerate(rule.steps):
                    if step.contact is not None and layer.actors[step.contact].contact is None:
                        raise file.error(f"actor {step.contact!r} has no contact details in the layers of "
                                         f"{layer.id!r}", (*loc, "steps", number, "contact"))
            shared[rule_id] = rule
        except RuleError as exc:
            found.extend(exc.all or [exc])
    if found:
        raise _all_of(found)
    return shared


def load_layer_pack(path: Path, layer: Layer, problems: Problems | None = None,
                    events: EventDefinitions | None = None) -> LayerPack | None:
    """Load and check one layer's rule file for one event; conditions parsed, nothing in the engine yet.

    With collecting `problems`, every broken rule is recorded and the file is left out (None).
    """
    problems = problems or Problems()
    before = len(problems.found)
    pack: LayerPack | None = None
    with problems.gather():
        pack = _load_layer_pack(path, layer, problems, events or shipped_definitions())
    return pack if len(problems.found) == before else None


def _load_layer_pack(path: Path, layer: Layer, problems: Problems, events: EventDefinitions) -> LayerPack:
    file = _File(path)
    rules = file.data.get("rules") if isinstance(file.data, Mapping) else None
    if isinstance(rules, list) and len(rules) > MAX_ENGINE_RULES:
        # Every rule is at least one engine rule, and an event's pack holds at most MAX_ENGINE_RULES: such
        # a file can never load, so it is refused before the work of checking each of its rules.
        raise file.error(f"{len(rules)} rules in one file; at most {MAX_ENGINE_RULES} (the engine holds at "
                         f"most {MAX_ENGINE_RULES} rules per event)", ("rules",), key=True)
    file.data = _take_shared(file, layer)
    spec = file.validate(RuleFile)
    meta = spec.pack
    if meta.layer != layer.id:
        raise file.error(f"pack layer {meta.layer!r} does not match its folder {layer.id!r}",
                         ("pack", "layer"))
    if meta.event not in events:
        raise file.error(f"unknown event {meta.event!r}{suggest(meta.event, events)}; known: "
                         f"{', '.join(sorted(events))} (a new event needs its file: "
                         f"{layer.id}/{EVENTS_FOLDER}/{meta.event}.yaml)", ("pack", "event"))
    if path.stem != meta.event:
        raise file.error(f"event {meta.event!r} must live in {meta.event}.yaml", ("pack", "event"))
    if meta.review_by is not None and meta.review_by < meta.valid_from:
        raise file.error("review_by lies before valid_from", ("pack", "review_by"))
    facts = events[meta.event].fact_types
    compiled: dict[str, CompiledRule] = {}
    seen: set[str] = set()
    for index, rule in enumerate(spec.rules):
        with problems.gather():  # every broken rule of the file is reported, not only the first
            loc: tuple[Any, ...] = ("rules", index)
            if rule.id in seen:
                raise file.error(f"duplicate rule id {rule.id!r}", (*loc, "id"), key=True)
            seen.add(rule.id)
            _check_actors(file, layer, rule, loc)
            when = file.data["rules"][index].get("when")
            try:
                alternatives = parse_condition(when, facts)
            except ConditionError as exc:
                raise file.at(f"rule {rule.id!r}: {exc.message}",
                              exc.position or _yaml.position(file.data, (*loc, "when"))) from None
            compiled[rule.id] = CompiledRule(rule.id, alternatives)
            _check_due(file, rule, compiled[rule.id], facts, loc)
    return LayerPack(path, file, spec, layer, compiled)


def _take_shared(file: _File, layer: Layer) -> Any:  # noqa: ANN401 - YAML data
    """A pack's data as its rules mean it: `use:` filled in, steps without `text:` given their layer's.

    What is filled in sits at the rule's `use:` (or at the step, for a text), so errors point there.
    """
    rules = file.data.get("rules") if isinstance(file.data, _yaml.LocatedDict) else None
    if not isinstance(rules, _yaml.LocatedList):
        return file.data  # the schema says what is wrong
    found: list[RuleError] = []
    taken: list[Any] = []
    for index, rule in enumerate(rules):
        loc = ("rules", index)
        try:
            if isinstance(rule, _yaml.LocatedDict) and is_id(rule.get("use")):
                rule = _use(file, layer, rule, loc)  # noqa: PLW2901 - the rule as it is meant
            elif isinstance(rule, _yaml.LocatedDict) and "steps" in rule:
                steps = _with_texts(file, rule["steps"], (*loc, "steps"), layer)
                rule = _yaml.with_entries(rule, {"steps": steps})  # noqa: PLW2901
        except RuleError as exc:
            found.append(exc)
        taken.append(rule)
    if found:
        raise _all_of(found)
    return _yaml.with_entries(file.data, {"rules": _yaml.with_items(rules, taken)})


def _use(file: _File, layer: Layer, rule: _yaml.LocatedDict, loc: tuple[Any, ...]) -> _yaml.LocatedDict:
    """A rule with `use:` as it is meant: its own id, when, priority and source, the shared rule's rest."""
    name = rule["use"]
    what = f"rule {rule['id']!r}" if is_id(rule.get("id")) else "a rule"
    for part in SHARED_PARTS:
        if part in rule:
            raise file.error(f"{what} takes {', '.join(SHARED_PARTS)} from shared rule {name!r} (`use:`), "
                             f"so it cannot give its own `{part}:`", (*loc, part), key=True)
    body = layer.shared.get(name)
    if body is None:
        known = ", ".join(sorted(layer.shared)) or "none"
        raise file.error(f"{what} uses shared rule {name!r}, which `rules:` of the {LAYER_FILE} of layer "
                         f"{layer.id!r} does not define{suggest(name, layer.shared)}; it defines: {known}",
                         (*loc, "use"))
    taken: dict[str, Any] = {"responsible": body.responsible, "steps": body.steps, "warnings": body.warnings}
    if "source" not in rule:
        taken["source"] = body.source
    if "basis" not in rule and "reason" not in rule:  # a rule may mark its use of a shared body itself
        taken["basis"], taken["reason"] = body.basis, body.reason
    return _yaml.with_entries(rule, taken, rule.positions["use"])


def _with_texts(file: _File, steps: Any, loc: tuple[Any, ...], layer: Layer) -> Any:  # noqa: ANN401
    """Steps as written, each without `text:` given its layer's text for the action.

    A step giving another text than its layer's is refused at its text: one action, one text.
    """
    if not isinstance(steps, _yaml.LocatedList):
        return steps
    out: list[Any] = []
    for number, step in enumerate(steps):
        if isinstance(step, _yaml.LocatedDict) and is_id(step.get("actor")) and is_id(step.get("action")):
            actor, action = step["actor"], step["action"]
            shared = layer.texts.get(f"{actor}.{action}")
            if shared is None and "text" not in step:
                raise file.error(f"action {action!r} of {actor!r} has no text: give it `text:`, or give "
                                 f"`{actor}.{action}` one in `texts:` of the {LAYER_FILE} of layer "
                                 f"{layer.id!r} or a layer above", (*loc, number))
            if shared is not None and "text" not in step:
                step = _yaml.with_entries(step, {"text": shared.text})  # noqa: PLW2901 - as it is meant
            elif shared is not None and isinstance(step["text"], str) and step["text"].strip() != shared.text:
                raise file.error(f"action {action!r} of {actor!r} is given another text than `texts:` of "
                                 f"layer {shared.layer!r} gives it ({shared.where}); leave out `text:` to "
                                 "take that one, or give the step an action of its own if it means another",
                                 (*loc, number, "text"))
        out.append(step)
    return _yaml.with_items(steps, out)


def _all_of(found: Sequence[RuleError]) -> RuleError:
    """One RuleError for several found in one step of loading: the first, carrying all."""
    first = found[0]
    if len(found) > 1:
        first = RuleError(f"{first.message} (and {len(found) - 1} more)", first.path, first.line,
                          first.column)
    first.all = list(found)
    return first


def compose(parts: Sequence[LayerPack]) -> tuple[dict[str, RuleSpec], dict[str, LayerPack]]:
    """The rules of one event down a chain of layers, top first: inherited, replaced, omitted, added."""
    rules: dict[str, RuleSpec] = {}
    origin: dict[str, LayerPack] = {}
    for part in parts:
        for rule_id in part.meta.omit:
            if rule_id not in rules:
                raise part.file.error(f"omit names rule {rule_id!r}, which no layer above defines for event "
                                      f"{part.meta.event!r}", ("pack", "omit", rule_id), key=True)
            del rules[rule_id]
            del origin[rule_id]
        for index, rule in enumerate(part.spec.rules):
            loc = ("rules", index)
            above = origin.get(rule.id)
            if above is None and rule.overrides is not None:
                raise part.file.error(f"rule {rule.id!r} overrides {rule.overrides!r}, but no layer above "
                                      f"defines a rule {rule.id!r} for event {part.meta.event!r}",
                                      (*loc, "overrides"))
            if above is not None:
                line = (_yaml.position(above.file.data, above.rule_loc(rule.id)) or (0, 0))[0]
                where = f"{above.path}:{line}"
                if rule.overrides is None:
                    raise part.file.error(f"rule {rule.id!r} is already defined by layer {above.layer.id!r} "
                                          f"({where}); to replace it, add `overrides: {above.layer.id}`",
                                          (*loc, "id"))
                if rule.overrides != above.layer.id:
                    raise part.file.error(f"rule {rule.id!r} comes from layer {above.layer.id!r} ({where}), "
                                          f"not {rule.overrides!r}", (*loc, "overrides"))
            rules[rule.id] = rule  # a replacement keeps the place of the rule it replaces
            origin[rule.id] = part
    _check_texts(rules, origin)
    return rules, origin


def _build(municipality: Layer, definition: EventDefinition, parts: tuple[LayerPack, ...],
           rules: dict[str, RuleSpec], origin: dict[str, LayerPack]) -> Pack:
    event = definition.id
    last = parts[-1]
    for rule_id, rule in rules.items():
        part = origin[rule_id]
        for number, step in enumerate(rule.steps):
            if step.contact is not None and municipality.actors[step.contact].contact is None:
                raise part.file.error(f"actor {step.contact!r} has no contact details in the layers of "
                                      f"{municipality.id!r}",
                                      (*part.rule_loc(rule_id), "steps", number, "contact"))
    compiled = {rule_id: origin[rule_id].compiled[rule_id] for rule_id in rules}
    engine_rules = to_ruleset(list(compiled.values()))
    digest = hashlib.sha256(definition.raw + b"\0")
    for layer in municipality.chain():
        digest.update(layer.file.raw + b"\0")
    for part in parts:
        digest.update(part.file.raw + b"\0")
    content_hash = digest.hexdigest()
    name = f"ansvar:{municipality.id}:{event}:{content_hash[:12]}"
    try:
        ruleset = Ruleset(name, engine_rules, silent=(CATCH_ALL,))
    except ValueError as exc:
        # Said at the rule the limit shows at, where the check names one; else at the pack's rules.
        rule_id = _rule_of(exc.rule) if isinstance(exc, EngineLimitError) else ""
        part = origin.get(rule_id, last)
        loc = part.rule_loc(rule_id) if rule_id in origin else ("rules",)
        raise part.file.error(f"the rules exceed what durable_rules evaluates safely: {exc}", loc) from None
    place = {rule_id: number for number, rule_id in enumerate(compiled)}
    return Pack(municipality, event, parts, rules, origin, compiled, definition, content_hash, ruleset, place)


def _rule_of(engine_rule: str | None) -> str:
    """The pack rule an engine rule is an alternative of ("" for the catch-all, or no rule named)."""
    if engine_rule is None:
        return ""
    try:
        return names.decode(engine_rule)[0]
    except ValueError:  # the catch-all
        return ""


def _check_texts(rules: Mapping[str, RuleSpec], origin: Mapping[str, LayerPack]) -> None:
    """One Danish text per (actor, action) and per warning id, across layers: same id, same meaning."""
    actions: dict[tuple[str, str], str] = {}
    warnings: dict[str, str] = {}
    for rule_id, rule in rules.items():
        part = origin[rule_id]
        loc = part.rule_loc(rule_id)
        for number, step in enumerate(rule.steps):
            if actions.setdefault((step.actor, step.action), step.text) != step.text:
                message = f"action {step.action!r} of {step.actor!r} is given two different texts"
                raise part.file.error(message, (*loc, "steps", number, "text"))
        for number, warning in enumerate(rule.warnings):
            if warnings.setdefault(warning.id, warning.text) != warning.text:
                raise part.file.error(f"warning {warning.id!r} is given two different texts",
                                      (*loc, "warnings", number, "text"))


def _check_actors(file: _File, layer: Layer, rule: RuleSpec | SharedRule, loc: tuple[Any, ...]) -> None:
    named: list[tuple[str, tuple[Any, ...]]] = []
    if rule.responsible is not None:
        named.append((rule.responsible, (*loc, "responsible")))
    for number, step in enumerate(rule.steps):
        named.append((step.actor, (*loc, "steps", number, "actor")))
        if step.contact is not None:
            named.append((step.contact, (*loc, "steps", number, "contact")))
    known = layer.actors
    for actor, where in named:
        if actor not in known:
            hint = suggest(actor, known) or (
                f" (a contract actor, but no {LAYER_FILE} of layer {layer.id!r} or above names it)"
                if actor in ACTORS else "")
            raise file.error(f"unknown actor {actor!r}{hint}", where)


def _check_due(file: _File, rule: RuleSpec, compiled: CompiledRule, facts: Mapping[str, FactType],
               loc: tuple[Any, ...]) -> None:
    """A deadline counts from date facts the rule's condition guarantees are set, or from `on`."""
    dates = [f for f, t in facts.items() if t.kind == "date"]
    for number, step in enumerate(rule.steps):
        if step.done_on is not None and step.done_on not in dates:
            raise file.error(f"done_on {step.done_on!r} is not a date fact of this event (dates: "
                             f"{', '.join(dates) or 'none'}){suggest(step.done_on, dates)}",
                             (*loc, "steps", number, "done_on"))
        if step.due is None:
            continue
        where = (*loc, "steps", number, "due", "from")
        for name in step.due.from_:
            if name != ROUTING_DATE and name not in dates:
                known = [*dates, ROUTING_DATE]
                raise file.error(f"due counts from {name!r}, which is not a date fact of this event "
                                 f"(dates: {', '.join(known)}){suggest(name, known)}", where)
        if ROUTING_DATE in step.due.from_:
            continue
        for alternative in compiled.alternatives:
            if not any(_sets(test, name) for test in alternative for name in step.due.from_):
                names = " or ".join(repr(n) for n in step.due.from_)
                first = step.due.from_[0]
                raise file.error(f"due counts from {names}, which may be null when rule {rule.id!r} fires; "
                                 f"add `{first}: {{ne: null}}` to its `when`, or end `from` with `on`", where)


def _sets(test: Test, name: str) -> bool:
    """Whether a test holding implies fact `name` is not null."""
    if test.fact != name:
        return False
    if test.op == "ne":
        return bool(test.value is None)
    return test.value is not None
