"""The package's layers: imports go down only, no cycles, only app/ imports sandbox/.

Every ``import`` in ``runbook_lib`` counts, those inside functions included. The
checker is run on the real tree and, to show that it can fail, on small trees
with one deliberately wrong import each.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "runbook_lib"

# Bottom to top; a package may import its own modules and any package before it.
LAYERS = (
    "base",
    "target",
    "incident",
    "decide",
    "evidence",
    "rollback",
    "verify",
    "parity",
    "runs",
    "comms",
    "app",
)
SANDBOX = "sandbox"
SANDBOX_MAY_IMPORT = frozenset({"base", "target"})


def modules(root: Path) -> dict[str, Path]:
    """Every module of the tree under ``root`` by dotted name (``runbook_lib.x.y``)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        if "files" in relative.parts[1:3] and relative.parts[1] == SANDBOX:
            continue  # the sandbox's template tree is a target's code, not runbook's
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, list[str]]]:
    """(module imported, names taken from it) for each import in the file, nested ones too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule, []) if submodule in known else (base, [alias.name])


def layer_of(module: str) -> str:
    """The top-level package of a ``runbook_lib`` module ('' for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def graph(root: Path) -> dict[str, dict[str, list[str]]]:
    """Module -> {imported runbook_lib module: names taken}."""
    known = modules(root)
    edges: dict[str, dict[str, list[str]]] = {name: {} for name in known}
    for name, path in known.items():
        for target, names in imports_of(name, path, known):
            if target.split(".")[0] == root.name and target != name:
                edges[name].setdefault(target, []).extend(names)
    return edges


def layer_problems(importer: str, imported: str) -> list[str]:
    """What is wrong with one import edge, by the layer rules."""
    source, target = layer_of(importer), layer_of(imported)
    if not target or source == target:
        return []
    if target == SANDBOX:
        return [] if source == "app" else [f"{importer} imports {imported}: only app/ may"]
    if source == SANDBOX:
        ok = target in SANDBOX_MAY_IMPORT
        return [] if ok else [f"{importer} imports {imported}: sandbox/ may import base, target"]
    if source not in LAYERS or target not in LAYERS:
        return [f"{importer} imports {imported}: a package outside the layer table"]
    if LAYERS.index(target) > LAYERS.index(source):
        return [f"{importer} imports {imported}: {source}/ is below {target}/"]
    return []


def cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, {}):
            if nxt not in edges:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def violations(root: Path) -> list[str]:
    """Every broken rule in the tree: layers, sandbox, cycles, private names across packages."""
    edges = graph(root)
    problems: list[str] = []
    for importer, targets in sorted(edges.items()):
        for imported, names in sorted(targets.items()):
            problems += layer_problems(importer, imported)
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and layer_of(importer) != layer_of(imported):
                problems.append(f"{importer} takes private {', '.join(private)} from {imported}")
    problems += [f"import cycle: {' <-> '.join(c)}" for c in cycles(edges)]
    return problems


def test_the_real_tree_keeps_its_layers() -> None:
    assert violations(ROOT) == []


def test_every_package_is_in_the_layer_table_and_says_what_it_owns() -> None:
    packages = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())
    assert set(packages) == {*LAYERS, SANDBOX}
    for name in packages:
        assert ast.get_docstring(ast.parse((ROOT / name / "__init__.py").read_text())), name


def make_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "runbook_lib"
    for relative, text in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for parent in path.relative_to(root).parents:
            (root / parent / "__init__.py").touch()
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "base/errors.py": "from runbook_lib.target import manifest\n",
                "target/manifest.py": "",
            },
            "runbook_lib.base.errors imports runbook_lib.target.manifest: base/ is below target/",
        ),
        (
            {
                "rollback/engine.py": "def f():\n    from runbook_lib.app import cli\n",
                "app/cli.py": "",
            },
            "runbook_lib.rollback.engine imports runbook_lib.app.cli: rollback/ is below app/",
        ),
        (
            {"verify/x.py": "from runbook_lib.sandbox import faults\n", "sandbox/faults.py": ""},
            "runbook_lib.verify.x imports runbook_lib.sandbox.faults: only app/ may",
        ),
        (
            {
                "sandbox/faults.py": "from runbook_lib.rollback import engine\n",
                "rollback/engine.py": "",
            },
            "runbook_lib.sandbox.faults imports runbook_lib.rollback.engine: sandbox/ may import base, target",
        ),
        (
            {
                "parity/a.py": "from runbook_lib.parity import b\n",
                "parity/b.py": "def f():\n    from runbook_lib.parity.a import x\n",
            },
            "import cycle: runbook_lib.parity.a <-> runbook_lib.parity.b",
        ),
        (
            {"app/a.py": "from runbook_lib.base.fsutil import _hidden\n", "base/fsutil.py": ""},
            "runbook_lib.app.a takes private _hidden from runbook_lib.base.fsutil",
        ),
        (
            {"rollback/a.py": "from ..app import cli\n", "app/cli.py": ""},
            "runbook_lib.rollback.a imports runbook_lib.app.cli: rollback/ is below app/",
        ),
    ],
)
def test_a_wrong_import_is_named(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    assert violations(make_tree(tmp_path, files)) == [expected]


def test_imports_down_the_layers_pass(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "app/cli.py": "from runbook_lib.sandbox import faults\nfrom runbook_lib.base import errors\n",
            "sandbox/faults.py": "from runbook_lib.target.inifile import edit\n",
            "target/inifile.py": "from runbook_lib.base.errors import WorkspaceError\n",
            "base/errors.py": "",
        },
    )
    assert violations(root) == []


def test_every_package_imports_cleanly_in_a_fresh_interpreter() -> None:
    packages = ["runbook_lib", *(f"runbook_lib.{name}" for name in (*LAYERS, SANDBOX))]
    for package in packages:
        done = subprocess.run(
            [sys.executable, "-W", "error", "-c", f"import {package}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, (package, done.stderr[-2000:])
