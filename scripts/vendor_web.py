#!/usr/bin/env python3
"""Vendors GraphiQL and what it needs into app/static/vendor/, from the npm registry.

    python scripts/vendor_web.py            fetch the pinned versions (`npm pack`), copy the
                                            files bookrec serves and their licences, write
                                            app/static/vendor/manifest.json (versions, sha256)
    python scripts/vendor_web.py --verify   check the committed files against the manifest,
                                            then fetch the same versions again and check that
                                            the registry still serves exactly those bytes
    python scripts/vendor_web.py --offline  the first check only (no network): what the test
                                            suite does too (tests/web/test_vendor.py)

To move to a new version, change PACKAGES below, run the script, then update the paths in
app/static/graphiql/index.html (the versions are part of every URL, which is what lets the
server send them with `Cache-Control: immutable`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "app" / "static" / "vendor"
MANIFEST = VENDOR / "manifest.json"

# (npm name, version, directory under vendor/, files taken from the tarball's package/)
PACKAGES: list[tuple[str, str, str, list[str]]] = [
    ("react", "18.2.0", "react@18.2.0", ["umd/react.production.min.js", "LICENSE"]),
    ("react-dom", "18.2.0", "react-dom@18.2.0", ["umd/react-dom.production.min.js", "LICENSE"]),
    ("graphiql", "3.8.3", "graphiql@3.8.3", ["graphiql.min.js", "graphiql.min.css", "LICENSE"]),
    (
        "@graphiql/plugin-explorer",
        "1.0.2",
        "graphiql-plugin-explorer@1.0.2",
        ["dist/index.umd.js", "dist/style.css"],
    ),
]
# @graphiql/plugin-explorer's tarball has no LICENSE file: its package.json says "MIT" and
# it is published from the graphiql monorepo, whose MIT licence (the graphiql package's
# LICENSE) is copied beside it with this note.
BORROWED_LICENSE = {
    "@graphiql/plugin-explorer": (
        "graphiql",
        "The npm package @graphiql/plugin-explorer@1.0.2 ships no LICENSE file; its\n"
        'package.json declares "license": "MIT" and it is published from the graphiql\n'
        "monorepo (github.com/graphql/graphiql, packages/graphiql-plugin-explorer), whose\n"
        "licence follows.\n\n",
    )
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def npm_pack(name: str, version: str, into: Path) -> tuple[Path, str]:
    """The package's tarball from the registry, unpacked; and its npm integrity string."""
    out = subprocess.run(
        ["npm", "pack", "--json", f"{name}@{version}"],
        cwd=into,
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(out.stdout)[0]
    if info["version"] != version:
        raise SystemExit(f"npm served {name}@{info['version']}, not {version}")
    tarball = into / info["filename"]
    target = into / info["filename"].removesuffix(".tgz")
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target / "package", info["integrity"]


def fetch_all(work: Path) -> dict[str, tuple[Path, str]]:
    return {name: npm_pack(name, version, work) for name, version, _, _ in PACKAGES}


def vendor() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = fetch_all(Path(tmp))
        if VENDOR.exists():
            for child in VENDOR.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
        entries = []
        for name, version, directory, files in PACKAGES:
            root, integrity = unpacked[name]
            dest = VENDOR / directory
            recorded = {}
            for rel in files:
                target = dest / Path(rel).name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / rel, target)
                recorded[target.name] = {"from": rel, "sha256": sha256(target)}
            if name in BORROWED_LICENSE:
                source, note = BORROWED_LICENSE[name]
                licence = dest / "LICENSE"
                licence.write_text(note + (unpacked[source][0] / "LICENSE").read_text())
                recorded["LICENSE"] = {"from": f"{source}/LICENSE", "sha256": sha256(licence)}
            entries.append(
                {
                    "name": name,
                    "version": version,
                    "directory": directory,
                    "npm_integrity": integrity,
                    "files": recorded,
                }
            )
    MANIFEST.write_text(json.dumps({"packages": entries}, indent=2) + "\n")
    print(f"vendored {len(entries)} packages into {VENDOR.relative_to(REPO)}")


def verify_offline() -> list[str]:
    """Problems with the committed files: missing, changed, or not in the manifest."""
    problems = []
    manifest = json.loads(MANIFEST.read_text())
    listed = set()
    for entry in manifest["packages"]:
        for filename, meta in entry["files"].items():
            path = VENDOR / entry["directory"] / filename
            listed.add(path)
            if not path.is_file():
                problems.append(f"missing: {path.relative_to(REPO)}")
            elif sha256(path) != meta["sha256"]:
                problems.append(f"changed: {path.relative_to(REPO)}")
    for path in VENDOR.rglob("*"):
        if path.is_file() and path != MANIFEST and path not in listed:
            problems.append(f"not in the manifest: {path.relative_to(REPO)}")
    return problems


def verify_registry() -> list[str]:
    """Problems between the manifest and what the registry serves for the same versions."""
    problems = []
    manifest = {e["name"]: e for e in json.loads(MANIFEST.read_text())["packages"]}
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = fetch_all(Path(tmp))
        for name, _version, _directory, files in PACKAGES:
            root, integrity = unpacked[name]
            entry = manifest[name]
            if integrity != entry["npm_integrity"]:
                problems.append(f"{name}: the registry's tarball changed ({integrity})")
            for rel in files:
                if sha256(root / rel) != entry["files"][Path(rel).name]["sha256"]:
                    problems.append(f"{name}/{rel}: differs from the registry's")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--verify", action="store_true", help="check files and registry")
    group.add_argument("--offline", action="store_true", help="check files only")
    args = parser.parse_args()
    if not (args.verify or args.offline):
        vendor()
    problems = verify_offline()
    if args.verify and not problems:
        problems = verify_registry()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("vendored files match the manifest" + (" and the registry" if args.verify else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
