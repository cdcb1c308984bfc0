"""The layers keep their shape: no module imports a higher layer or a sibling on its own line.

The layers are declared once, as the table under ``## Layers`` in ``docs/architecture.md``; this
test parses that table, so the document and the check cannot disagree. Every ``import`` and
``from ... import`` of every module under ``src/evrevops`` is read from its syntax tree, wherever it
stands: at the top, inside a function, or under ``if TYPE_CHECKING:``. Type-only imports count: a
module whose annotations name a higher layer's types depends on that layer all the same (it cannot
be read, type-checked or moved without it), and the rule is simpler with no exception. Relative
imports are resolved against the module's package. Imports by name at run time
(``importlib.import_module(text)``) are not seen.

A module may import its own package and the packages of lower layers; the package root
(``evrevops/__init__.py``) imports nothing of evrevops, since importing any layer runs it.

Why not import-linter's ``layers`` contract: its contracts live in ``pyproject.toml``, a second
declaration of the layers to keep equal to the document's table, and it adds a dependency (grimp)
for what a hundred lines of ``ast`` do here, with the file and line of each offending import.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "evrevops"
ARCHITECTURE_MD = ROOT / "docs" / "architecture.md"
TOP = "evrevops"


@dataclass(frozen=True)
class Layer:
    """One row of the layers table: its number, its packages, and its ``may import`` text."""

    number: int
    packages: tuple[str, ...]
    may_import: str


@dataclass(frozen=True)
class Violation:
    """An import that points up or sideways: where it is, what it says, and the two layers."""

    path: str
    line: int
    statement: str
    source: str
    source_layer: int | None
    target: str
    target_layer: int | None
    why: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: `{self.statement}`: {self.source} (layer {self.source_layer}) "
            f"imports {self.target} (layer {self.target_layer}): {self.why}"
        )


def parse_layers(markdown: str) -> list[Layer]:
    """The rows of the table under the ``## Layers`` heading of *markdown*.

    Columns: ``layer`` (a number), ``packages`` (the package names in backticks), what lives there,
    ``may import``.
    """
    lines = markdown.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == "## layers")
    except StopIteration:
        raise AssertionError("docs/architecture.md has no '## Layers' section") from None
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    assert len(rows) > 2, "the '## Layers' section has no table"
    header = [cell.lower() for cell in rows[0]]
    assert header[:2] == ["layer", "packages"] and header[-1] == "may import", f"unexpected layers header {rows[0]}"
    layers = []
    for row in rows[2:]:
        packages = tuple(re.findall(r"`([a-z_][a-z0-9_]*)`", row[1]))
        assert row[0].isdigit() and packages, f"a layers row needs a number and packages in backticks: {row}"
        layers.append(Layer(int(row[0]), packages, row[-1]))
    return layers


def layer_of(layers: list[Layer]) -> dict[str, int]:
    """Package name → layer number (a package named twice fails)."""
    out: dict[str, int] = {}
    for layer in layers:
        for name in layer.packages:
            assert name not in out, f"package {name} is in two layers"
            out[name] = layer.number
    return out


def top_level_units(package_dir: Path) -> set[str]:
    """The packages (folders holding Python files) and modules directly under *package_dir*."""
    units = set()
    for p in package_dir.iterdir():
        if p.is_dir() and p.name != "__pycache__" and any(p.rglob("*.py")):
            units.add(p.name)
        elif p.suffix == ".py" and p.name != "__init__.py":
            units.add(p.stem)
    return units


def module_name(path: Path, package_dir: Path) -> tuple[str, bool]:
    """The dotted name of the module at *path* and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in *module*."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(base) - 1:
        raise ValueError(f"relative import beyond the top-level package in {module}")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str, str]]:
    """Every import in *tree* (at any depth): (line, imported evrevops module, statement text)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            text = "import " + ", ".join(a.name for a in node.names)
            found += [(node.lineno, a.name, text) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, is_package, node.level, node.module)
            text = f"from {'.' * node.level}{node.module or ''} import " + ", ".join(a.name for a in node.names)
            if target == TOP:  # from evrevops import cli: each name is a top-level package (or a name of the root)
                found += [(node.lineno, f"{TOP}.{a.name}", text) for a in node.names]
            else:
                found.append((node.lineno, target, text))
    ours = [(line, name, text) for line, name, text in found if name == TOP or name.startswith(TOP + ".")]
    return sorted(ours)  # in line order (ast.walk visits breadth first)


def check(package_dir: Path, layers: list[Layer]) -> list[Violation]:
    """Every import under *package_dir* (a copy of ``src/evrevops``) that breaks the *layers*."""
    number = layer_of(layers)
    units = top_level_units(package_dir)
    violations = []
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        module, is_package = module_name(path, package_dir)
        rel = path.relative_to(package_dir.parent).as_posix()
        source = module.split(".")[1] if "." in module else TOP
        source_layer = number.get(source)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name, text in imported_modules(tree, module, is_package):
            target = name.split(".")[1] if "." in name else TOP
            if target == TOP or (target not in units and target not in number):
                continue  # the root package itself, or a name defined in evrevops/__init__.py
            target_layer = number.get(target)
            if source == TOP:
                why = "the package root imports nothing of evrevops"
            elif source == target:
                continue
            elif source_layer is None or target_layer is None:
                why = "a package missing from the layers table in docs/architecture.md"
            elif target_layer > source_layer:
                why = "a higher layer"
            elif target_layer == source_layer:
                why = "a sibling on the same line"
            else:
                continue
            violations.append(Violation(rel, line, text, source, source_layer, target, target_layer, why))
    return violations


@pytest.fixture(scope="module")
def layers() -> list[Layer]:
    return parse_layers(ARCHITECTURE_MD.read_text(encoding="utf-8"))


def test_no_module_imports_a_higher_layer_or_a_sibling(layers):
    violations = check(PACKAGE, layers)
    assert not violations, "imports against the layers of docs/architecture.md:\n" + "\n".join(map(str, violations))


def test_every_top_level_package_is_in_the_layers_table(layers):
    declared = set(layer_of(layers))
    missing = top_level_units(PACKAGE) - declared
    assert not missing, f"add {sorted(missing)} to the layers table in docs/architecture.md"


def test_the_layers_are_numbered_from_one_and_may_import_says_what_the_check_does(layers):
    assert [layer.number for layer in layers] == list(range(1, len(layers) + 1))
    for layer in layers:
        expected = {1: "nothing of evrevops", 2: "layer 1"}.get(layer.number, f"layers 1–{layer.number - 1}")
        assert layer.may_import == expected, f"layer {layer.number}: 'may import' should read {expected!r}"


def test_the_core_is_the_bottom_and_the_cli_the_top(layers):
    assert layers[0].packages == ("core",) and layers[-1].packages == ("cli",)


def test_the_picture_in_the_document_is_the_table(layers):
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    picture = text[text.index("```\n") + 4 : text.index("```", text.index("```\n") + 4)]
    drawn = []
    for line in picture.splitlines():
        m = re.match(r"\s*(\d+)\s+([a-z_]+(?:\s+\|\s+[a-z_]+)*)", line)
        if m:
            drawn.append((int(m.group(1)), tuple(re.split(r"\s+\|\s+", m.group(2)))))
    assert sorted(drawn) == [(layer.number, layer.packages) for layer in layers]


@pytest.fixture
def tree_copy(tmp_path) -> Path:
    """A copy of ``src/evrevops`` to break on purpose."""
    dest = tmp_path / "evrevops"
    shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def append(path: Path, text: str) -> int:
    """Append *text* to the module at *path*; the line number of its first line."""
    body = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    path.write_text(body + text, encoding="utf-8")
    return body.count("\n") + 1


def test_a_core_module_importing_the_cli_is_reported(tree_copy, layers):
    line = append(tree_copy / "core" / "money.py", "from evrevops.cli import app\n")
    [v] = check(tree_copy, layers)
    assert (v.path, v.line, v.statement) == ("evrevops/core/money.py", line, "from evrevops.cli import app")
    assert (v.source, v.source_layer, v.target, v.target_layer, v.why) == ("core", 1, "cli", 11, "a higher layer")
    assert str(v).startswith(f"evrevops/core/money.py:{line}: `from evrevops.cli import app`: core (layer 1)")


def test_an_engine_importing_its_sibling_inside_a_function_is_reported(tree_copy, layers):
    line = append(tree_copy / "tariffs" / "billing.py", "\n\ndef _late():\n    from evrevops.uptime import timeline\n")
    [v] = check(tree_copy, layers)
    assert (v.path, v.line, v.source, v.target) == ("evrevops/tariffs/billing.py", line + 3, "tariffs", "uptime")
    assert (v.source_layer, v.target_layer, v.why) == (4, 4, "a sibling on the same line")


def test_relative_and_type_checking_imports_count(tree_copy, layers):
    path = tree_copy / "formats" / "base.py"
    line = append(path, "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..metrics import registry\n")
    line2 = append(path, "from .. import warehouse\nimport evrevops.query.anything\n")
    found = [(v.line, v.statement, v.target, v.why) for v in check(tree_copy, layers)]
    assert found == [
        (line + 2, "from ..metrics import registry", "metrics", "a higher layer"),
        (line2, "from .. import warehouse", "warehouse", "a higher layer"),
        (line2 + 1, "import evrevops.query.anything", "query", "a higher layer"),
    ]


def test_a_package_missing_from_the_table_is_reported(tree_copy, layers):
    (tree_copy / "newthing").mkdir()
    (tree_copy / "newthing" / "__init__.py").write_text("from evrevops.core import money\n")
    [v] = check(tree_copy, layers)
    assert (v.path, v.source, v.source_layer, v.target) == ("evrevops/newthing/__init__.py", "newthing", None, "core")
    assert "newthing" in top_level_units(tree_copy) - set(layer_of(layers))


def test_the_package_root_imports_nothing(tree_copy, layers):
    append(tree_copy / "__init__.py", "from evrevops.core.money import to_minor\n")
    [v] = check(tree_copy, layers)
    assert (v.path, v.source, v.target, v.why) == (
        "evrevops/__init__.py",
        TOP,
        "core",
        "the package root imports nothing of evrevops",
    )


@pytest.mark.parametrize(
    ("module", "is_package", "level", "target", "expected"),
    [
        ("evrevops.formats.base", False, 1, None, "evrevops.formats"),
        ("evrevops.formats.base", False, 1, "limits", "evrevops.formats.limits"),
        ("evrevops.formats.base", False, 2, "core.money", "evrevops.core.money"),
        ("evrevops.formats", True, 1, "base", "evrevops.formats.base"),
        ("evrevops.formats", True, 2, None, "evrevops"),
        ("evrevops.cli.root", False, 0, "evrevops.query", "evrevops.query"),
    ],
)
def test_relative_imports_resolve_against_the_package(module, is_package, level, target, expected):
    assert resolve(module, is_package, level, target) == expected


def test_a_relative_import_beyond_the_top_is_refused():
    with pytest.raises(ValueError, match="beyond the top-level package"):
        resolve("evrevops.core", True, 3, None)


def _defined_names(path: Path) -> set[str]:
    """The names a module defines at its top level (functions, classes, assignments)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def path_references(markdown: str) -> list[tuple[str, str | None]]:
    """The files a document names in backticks: ``(path, name)``, *name* for ``path.py: name`` and
    ``path.py::test_name``; paths under ``src/evrevops`` may be written from ``evrevops/`` or from inside it."""
    refs = []
    for token in re.findall(r"`([^`\s][^`]*)`", markdown):
        m = re.fullmatch(r"([\w./-]+?\.(?:py|toml|md|lock))(?:(?::\s*|::)(\w+))?", token)
        if m is None:
            m = re.fullmatch(r"((?:src|tests|docs|benchmarks)/[\w./-]*)()", token)
        if m is None or "/" not in m.group(1):
            continue
        refs.append((m.group(1).rstrip("/"), m.group(2) or None))
    return refs


# paths a document may name before they exist (none now: every path named must be there)
PLANNED: set[str] = set()


@pytest.mark.parametrize("doc", ["CONTRIBUTING.md", "docs/architecture.md"])
def test_the_files_and_names_a_shape_document_points_to_exist(doc):
    missing = []
    for rel, name in path_references((ROOT / doc).read_text(encoding="utf-8")):
        path = next((p for p in (ROOT / rel, ROOT / "src" / rel, PACKAGE / rel) if p.exists()), ROOT / rel)
        if not path.exists():
            if rel not in PLANNED:
                missing.append(rel)
        elif name and path.suffix == ".py" and name not in _defined_names(path):
            missing.append(f"{rel}: {name}")
    assert not missing, f"{doc} names what is not there: {missing}"
