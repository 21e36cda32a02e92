"""The layering rules (docs/ARCHITECTURE.md), checked on the source.

Every import statement of the project's packages is read, lazy ones inside functions
included, and becomes an edge from the importing module to the module it names (a package
means its `__init__`, which has edges of its own). The rules are then checked on that graph:
which layer may import which, and that there is no import circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "artifact", "db", "inference", "recommend", "schema", "training")
TRAINING_ONLY = {"tensorflow", "keras", "tf2onnx"}
# Which of the project's packages each one may import (itself always).
MAY_IMPORT = {
    "artifact": set(),
    "db": set(),
    "inference": {"artifact"},
    "recommend": {"db", "inference"},
    "schema": {"db", "inference", "recommend"},
    "training": {"artifact", "db", "inference"},
    "app": set(PACKAGES),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _is_package(module: str) -> bool:
    return _modules()[module].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def _imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(top-level names of everything imported, project modules named by the imports)."""
    tree = ast.parse(_modules()[module].read_text(), str(_modules()[module]))
    tops: set[str] = set()
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            # `from pkg import sub` names the submodule too (and always runs pkg/__init__)
            targets = [source, *(f"{source}.{alias.name}" for alias in node.names)]
        else:
            continue
        tops |= {t.split(".")[0] for t in targets if t}
        named |= {t for t in targets if t in _modules()}
    return frozenset(tops), frozenset(named)


def _edges() -> dict[str, frozenset[str]]:
    return {module: _imports(module)[1] for module in _modules()}


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_there_is_no_import_circle() -> None:
    """Tarjan's strongly connected components over the whole import graph."""
    edges = _edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                circles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def test_the_graph_sees_imports_through_package_inits() -> None:
    """The circle check is only as good as the graph: a package's `__init__` is a module
    with edges, and lazy imports inside functions count."""
    edges = _edges()
    assert "inference.recommender" in edges["inference"]  # inference/__init__ re-exports
    assert "inference" in edges["recommend.chain"]  # `from inference import Recommender`
    assert "training.pipeline" in edges["app.cli"]  # imported inside a function


def test_each_layer_imports_only_the_layers_below_it() -> None:
    for module in _modules():
        layer = _layer(module)
        for target in _imports(module)[1]:
            allowed = MAY_IMPORT[layer] | {layer}
            assert _layer(target) in allowed, f"{module} imports {target}"


def test_serving_code_never_imports_training_frameworks() -> None:
    for module in _modules():
        if _layer(module) != "training":
            found = _imports(module)[0] & TRAINING_ONLY
            assert not found, f"{module} imports {found}"


def test_only_the_cli_imports_training() -> None:
    for module in _modules():
        if _layer(module) != "training" and module != "app.cli":
            found = [t for t in _imports(module)[1] if _layer(t) == "training"]
            assert not found, f"{module} imports {found}"


def test_schema_reaches_the_database_and_the_chain_only_through_their_front_doors() -> None:
    """The GraphQL layer maps arguments and results: no SQL, no fast-read cursor, no chain
    internals (only what the `recommend` package exports)."""
    for module in _modules():
        if _layer(module) != "schema":
            continue
        tops, named = _imports(module)
        assert not tops & {"sqlmodel", "sqlalchemy", "psycopg", "sqlite3"}, module
        assert "db.fastread" not in named, module
        assert not {t for t in named if t.startswith("recommend.")}, (module, named)


def _strings_outside_docstrings(tree: ast.AST) -> list[str]:
    docstrings = {
        id(body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and (body := node.body)
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_only_the_artifact_package_reads_or_writes_the_manifest_and_the_pointer() -> None:
    for module, path in _modules().items():
        if _layer(module) == "artifact":
            continue
        tree = ast.parse(path.read_text())
        strings = _strings_outside_docstrings(tree)
        assert not [s for s in strings if "manifest.json" in s or s.strip() == "CURRENT"], module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("artifact"):
                names = {alias.name for alias in node.names}
                assert not names & {"MANIFEST", "CURRENT", "write_text_atomic"}, module


def test_server_starts_without_tensorflow() -> None:
    code = (
        "import sys\n"
        "for name in ('tensorflow', 'keras', 'tf2onnx'): sys.modules[name] = None\n"
        "from app.asgi import create_app\n"
        "from app.settings import Settings\n"
        "create_app(Settings(env='test', secret_key='k' * 40, database_url='sqlite://'))\n"
        "import app.cli\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
