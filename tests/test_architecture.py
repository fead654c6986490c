"""The shape of the house: no import circles, a dashboard that only reaches the core, a core that
never imports Streamlit or training, no state kept between calls in the core, and lint-clean code."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "training", "dashboard", "benchmarks")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules one file imports, at module level or inside functions alike."""
    found = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None (depth-first search with colours)."""
    colour, stack = {}, []

    def visit(node):
        colour[node] = "grey"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == "grey":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in colour and (found := visit(nxt)):
                return found
        colour[node] = "black"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in colour and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_circles():
    graph = _graph()
    assert len(graph) > 30, "the graph should cover every module of the project"
    cycle = _cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_dashboard_imports_only_the_core_and_the_core_no_ui_or_training():
    graph = _graph()
    for module, targets in graph.items():
        if module.startswith("dashboard"):
            outside = {t for t in targets if not t.startswith(("model", "dashboard"))}
            assert not outside, f"{module} imports {sorted(outside)}"
        if module.startswith("model"):
            assert not {t for t in targets if t.startswith(("training", "dashboard", "benchmarks"))}, module
    for path in (ROOT / "model").rglob("*.py"):
        assert "streamlit" not in path.read_text(encoding="utf-8"), f"{path} mentions streamlit"


def test_the_core_keeps_no_state_between_calls():
    """No module-level cache (an empty dict, list, set or OrderedDict filled later) in model/."""
    for path in (ROOT / "model").rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                value = node.value
                empty_literal = isinstance(value, (ast.Dict, ast.List, ast.Set)) and not (
                    getattr(value, "keys", None) or getattr(value, "elts", None))
                empty_call = (isinstance(value, ast.Call) and not value.args and getattr(value.func, "id", "")
                              in ("dict", "list", "set", "OrderedDict", "defaultdict"))
                assert not (empty_literal or empty_call), f"{path.name}:{node.lineno} keeps module-level state"


def test_the_code_passes_the_linter():
    # ruff comes with requirements-dev.txt; configured in pyproject.toml.
    ruff = str(Path(sys.executable).parent / "ruff") if (Path(sys.executable).parent / "ruff").exists() \
        else shutil.which("ruff")
    assert ruff, "ruff is missing: pip install -r requirements-dev.txt"
    result = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
