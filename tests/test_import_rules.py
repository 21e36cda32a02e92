"""The layering rules of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING_ONLY = {"tensorflow", "keras", "tf2onnx"}


def _imports(package: str) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[path] = names
    return found


def test_serving_code_never_imports_training_frameworks() -> None:
    for package in ("inference", "schema", "db", "app"):
        for path, names in _imports(package).items():
            assert not names & TRAINING_ONLY, f"{path} imports {names & TRAINING_ONLY}"


def test_only_the_cli_imports_training() -> None:
    for package in ("inference", "schema", "db", "app"):
        for path, names in _imports(package).items():
            if path.name != "cli.py":
                assert "training" not in names, f"{path} imports training"


def test_schema_reaches_the_database_through_db_only() -> None:
    for path, names in _imports("schema").items():
        assert not names & {"sqlmodel", "sqlalchemy", "psycopg", "sqlite3"}, path


def test_server_starts_without_tensorflow() -> None:
    code = (
        "import sys\n"
        "for name in ('tensorflow', 'keras', 'tf2onnx'): sys.modules[name] = None\n"
        "from app.asgi import create_app\n"
        "from app.settings import Settings\n"
        "create_app(Settings(env='test', secret_key='k' * 40, database_url='sqlite://'))\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
