"""The package's shape: production code never imports the development package, settings are
read in one module, and both command entry points list every command."""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from panorama import cli
from panorama.settings import DEFAULT_KEEP_VERSIONS, get_settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ROOT / "plugins" / "panorama"
DAGS = ROOT / "dags"
DEV = "panorama_dev"
PRODUCTION_COMMANDS = ("extract", "status", "versions", "rollback")


def _sources() -> list[Path]:
    return sorted([*PRODUCTION.rglob("*.py"), *DAGS.glob("*.py")])


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    plugins = str(ROOT / "plugins")
    return {**os.environ, "PYTHONPATH": plugins + (os.pathsep + path if path else "")}


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            # importlib.import_module("...") / __import__("...")
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                found.append((node.lineno, str(arg.value)))
    return found


def test_production_sources_never_import_the_development_package() -> None:
    """Every import statement of plugins/panorama and dags, at any depth (inside functions and
    tasks too)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources()
        for line, module in _imported_modules(ast.parse(path.read_text("utf-8")))
        if module == DEV or module.startswith(DEV + ".")
    ]
    assert PRODUCTION / "pipeline.py" in _sources()
    assert not offenders, offenders


def test_importing_every_production_module_loads_no_development_module() -> None:
    """Import each module of plugins/panorama and each DAG file in a fresh interpreter; nothing
    of panorama_dev may be in sys.modules afterwards."""
    code = f"""
import importlib, importlib.util, json, pkgutil, sys
from pathlib import Path
import panorama
names = ["panorama"] + [m.name for m in pkgutil.walk_packages(panorama.__path__, "panorama.")]
for name in names:
    importlib.import_module(name)
for path in sorted(Path({str(DAGS)!r}).glob("*.py")):
    spec = importlib.util.spec_from_file_location("dag_" + path.stem, path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps({{"imported": names, "dev": sorted(m for m in sys.modules
    if m == {DEV!r} or m.startswith({DEV!r} + "."))}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    modules = {p.relative_to(PRODUCTION.parent).with_suffix("") for p in PRODUCTION.rglob("*.py")}
    expected = {".".join(m.parts[:-1] if m.name == "__init__" else m.parts) for m in modules}
    assert set(result["imported"]) == expected
    assert result["dev"] == []


def _declared_commands() -> set[str]:
    """The operations commands plus every development command pyproject.toml registers."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    development = pyproject["project"]["entry-points"]["panorama.commands"]
    return {*PRODUCTION_COMMANDS, *development}


def _parser_commands() -> set[str]:
    """Every subcommand the parser knows (in this process)."""
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def _listed_commands(help_text: str) -> set[str]:
    """Subcommand names in argparse's help: the indented first word of each command line."""
    lines = help_text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return {
        line.split()[0]
        for line in lines.splitlines()
        if line.startswith("    ") and not line.startswith("      ")
    }


@pytest.mark.parametrize("entry", ["console script", "python -m"])
def test_help_lists_every_command(entry: str) -> None:
    if entry == "console script":
        script = Path(sys.executable).parent / "panorama"
        assert script.exists(), "the panorama console script is not installed (make setup)"
        cmd = [str(script), "--help"]
    else:
        cmd = [sys.executable, "-m", "panorama", "--help"]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = _listed_commands(proc.stdout)
    assert _declared_commands() <= listed, "installed entry points are stale: run make setup"
    assert listed == _parser_commands()


def _env_reads(tree: ast.AST) -> list[int]:
    """Lines that read the environment: os.environ.get(...), os.getenv(...), os.environ[...]."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if ast.unparse(node.func) in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if ast.unparse(node.value) in ("os.environ", "environ"):
                lines.append(node.lineno)
    return lines


def test_settings_are_read_in_settings_py_only() -> None:
    """Production code and DAGs take their knobs from panorama.settings; the environment is
    read nowhere else (passing it on to a subprocess is not reading it)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _sources()
        if path != PRODUCTION / "settings.py"
        for line in _env_reads(ast.parse(path.read_text("utf-8")))
    ]
    assert not offenders, offenders


def test_settings_knobs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KEEP_VERSIONS", "DUCKDB_MEMORY_LIMIT", "PERSON_HASH_KEY", "DS"):
        monkeypatch.delenv(f"PANORAMA_{var}", raising=False)
    s = get_settings()
    assert (s.keep_versions, s.duckdb_memory_limit, s.person_hash_key) == (
        DEFAULT_KEEP_VERSIONS,
        "12GB",
        None,
    )
    monkeypatch.setenv("PANORAMA_KEEP_VERSIONS", "3")
    monkeypatch.setenv("PANORAMA_DUCKDB_MEMORY_LIMIT", "2GB")
    monkeypatch.setenv("PANORAMA_PERSON_HASH_KEY", "k-secret-1")
    monkeypatch.setenv("PANORAMA_DS", "2026-11-25")
    s = get_settings()
    assert (s.keep_versions, s.duckdb_memory_limit, s.logical_date) == (3, "2GB", "2026-11-25")
    assert s.person_hash_key == "k-secret-1" and "k-secret-1" not in repr(s)


@pytest.mark.parametrize("value", ["0", "-2", "seven"])
def test_bad_keep_versions_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PANORAMA_KEEP_VERSIONS", value)
    with pytest.raises(ValueError, match="PANORAMA_KEEP_VERSIONS must be a positive integer"):
        get_settings()
