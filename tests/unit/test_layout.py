"""The package's layers: imports run one way, from the front doors down to the model, and nothing else.

Read with `ast` from the source (every `import` and `from ... import`, at module level, in functions, and
under `if TYPE_CHECKING:` too: a type is a dependency), never a grep.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ansvar"

#: Bottom to top. A module may import from its own layer's other modules and from any layer below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "_cache", "_yaml"),
    ("engine",),  # the only importer of durable_rules; knows JSON rulesets and nothing of situations
    ("model",),
    ("packs",),
    ("routing",),
    ("analysis",),
    ("render",),
    ("testing",),
    # The front doors, and the thin re-exports that keep the contract's old import paths working.
    ("__init__", "cli", "server", "situation", "compare", "space", "html", "frames", "docsgen", "scenarios"),
)
#: The only module that may import durable_rules.
ENGINE_IMPORTERS = {"ansvar.engine"}


def _module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    """The layer of `ansvar.x.y`: by its first part below `ansvar` (`ansvar` itself: the front door)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for number, names in enumerate(LAYERS):
        if top in names:
            return number
    msg = f"{module} belongs to no layer of LAYERS: give it one"
    raise AssertionError(msg)


def imports(path: Path, src: Path) -> set[str]:
    """Every module `path` imports (absolute names; `from a import b` counts `a.b` when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    name = _module_name(path, src)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if _exists(candidate, src):
                    found.add(candidate)
    return found


def _exists(module: str, src: Path) -> bool:
    if not module.startswith("ansvar."):
        return False
    relative = Path(*module.split(".")[1:])
    return (src / relative).with_suffix(".py").is_file() or (src / relative / "__init__.py").is_file()


def back_imports(src: Path = SRC) -> list[str]:
    """`a -> b` for every import of a higher layer, or of durable_rules outside the engine."""
    found = []
    for path in sorted(src.rglob("*.py")):
        module = _module_name(path, src)
        for target in sorted(imports(path, src)):
            if target.split(".")[0] in {"durable_rules_engine", "durable"} and module not in ENGINE_IMPORTERS:
                found.append(f"{module} -> {target} (only ansvar.engine imports durable_rules)")
            elif target.startswith("ansvar.") and _layer(target) > _layer(module):
                found.append(f"{module} -> {target}")
    return found


def test_imports_run_one_way() -> None:
    """No module imports a higher layer, and only ansvar.engine imports durable_rules."""
    assert back_imports() == []


def test_the_engine_module_is_the_importer_of_durable_rules() -> None:
    """ansvar.engine does import durable_rules (so "only the engine" is not said of nobody), and no other."""
    importers = {_module_name(p, SRC) for p in SRC.rglob("*.py")
                 if any(t.split(".")[0] == "durable_rules_engine" for t in imports(p, SRC))}
    assert importers == ENGINE_IMPORTERS


def test_every_module_has_a_layer() -> None:
    """A new top-level module or folder must be placed in LAYERS, so the direction is checked for it too."""
    for path in SRC.rglob("*.py"):
        _layer(_module_name(path, SRC))


@pytest.mark.parametrize(("where", "line", "expected"), [
    ("model/events.py", "from ansvar.routing.router import Router", "ansvar.model.events -> ansvar.routing.router"),
    ("engine.py", "from ansvar.packs import loader", "ansvar.engine -> ansvar.packs.loader"),
    ("packs/loader.py", "from durable_rules_engine import create_ruleset",
     "ansvar.packs.loader -> durable_rules_engine (only ansvar.engine imports durable_rules)"),
    ("engine.py", "def f():\n    from ansvar.model import decision", "ansvar.engine -> ansvar.model.decision"),
    ("routing/resolve.py", "if TYPE_CHECKING:\n    from ansvar.analysis.audit import Finding",
     "ansvar.routing.resolve -> ansvar.analysis.audit"),
    ("packs/compiler.py", "from ..routing import build", "ansvar.packs.compiler -> ansvar.routing.build"),
])
def test_a_back_import_is_found(tmp_path: Path, where: str, line: str, expected: str) -> None:
    """The check fails when a lower layer imports a higher one, however the import is written."""
    copy = tmp_path / "ansvar"
    for path in SRC.rglob("*.py"):
        target = copy / path.relative_to(SRC)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    broken = copy / where
    broken.write_text(broken.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    assert back_imports(SRC) == []
    assert expected in back_imports(copy)
