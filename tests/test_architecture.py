"""The shape of the house: no import circles, a dashboard that only reaches the core, a core that
never imports Streamlit or training, no state kept between calls in the core, lint-clean code, and
names that say their role: one home for the registry's vocabulary (file names and kinds), no two
modules with one file name, the folders the README's layout section describes."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from model import registry

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "training", "dashboard", "benchmarks")
REGISTRY_MODULE = ROOT / "model" / "registry.py"


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


# --------------------------------------------------------------------------- names that say their role


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions (prose, not code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _registry_literals(source: str, vocabulary: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, text) of every code string that is a registry file name or kind, or a path ending in
    one. Prose that mentions a file (docstrings, help texts, messages) is not a literal of it."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if any(node.value == word or node.value.endswith("/" + word) for word in vocabulary):
                found.append((node.lineno, node.value))
    return found


def test_the_registry_owns_its_file_names_and_kinds():
    """`model/registry.py` names the entry's files and kinds; everyone else uses its constants (and its
    writers: a file cannot be written into an entry without naming it)."""
    vocabulary = (*registry.ENTRY_FILES, *registry.ENTRY_KINDS)
    offenders = [f"{path.relative_to(ROOT)}:{line}: {text!r}"
                 for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")) if path != REGISTRY_MODULE
                 for line, text in _registry_literals(path.read_text(encoding="utf-8"), vocabulary)]
    assert not offenders, "use the constants of model.registry instead:\n" + "\n".join(offenders)


def test_the_literal_finder_finds_names_in_code_and_leaves_prose_alone():
    source = '''"""Reads card.json."""
path = folder / "card.json"
other = f"{root}/metrics.json"
kind = "lung_segmentation"
help_text = "print only; do not update metrics.json"
'''
    found = _registry_literals(source, (*registry.ENTRY_FILES, *registry.ENTRY_KINDS))
    assert sorted(line for line, _ in found) == [2, 3, 4]


def test_the_registry_names_every_file_an_entry_holds():
    """A file in a shipped entry that the registry does not name would be read or written by someone else."""
    entries = [folder for folder in registry.PACKAGE_REGISTRY.iterdir() if folder.is_dir()]
    assert entries, "the shipped registry is empty"
    strays = [str(f.relative_to(ROOT)) for folder in entries for f in folder.iterdir()
              if f.name not in registry.ENTRY_FILES]
    assert not strays, f"files the registry does not know: {strays}"


def test_no_two_modules_share_a_file_name():
    """`model.trust.scope` and `training.fit_scope`, not two `scope.py` in different rooms."""
    seen: dict[str, list[str]] = {}
    for package in ("model", "training", "dashboard", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "__init__.py":
                seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not shared, f"file names used twice: {shared}"


def test_folders_are_named_for_what_they_hold():
    """The weights live in `model/versions/` (not a folder named like the module `model/registry.py`), the
    held-out results that training commands read back in `training/held_out_runs/` (not a top-level log),
    and every page file says it is a page."""
    assert registry.PACKAGE_REGISTRY == ROOT / "model" / "versions" and registry.PACKAGE_REGISTRY.is_dir()
    assert not (ROOT / "model" / "registry").exists()
    assert (ROOT / "training" / "held_out_runs").is_dir() and not (ROOT / "results").exists()
    pages = [p.name for p in (ROOT / "dashboard" / "views").glob("*.py") if p.name != "__init__.py"]
    assert pages and all(name.endswith("_page.py") for name in pages), pages


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def test_the_readme_layout_shows_every_room_of_the_house():
    """Each package folder (and the registry's folder, the held-out results, the pages) appears in the
    README's layout section, so a newcomer sees the whole house in one place."""
    layout = _readme_section("Project layout")
    folders = {p.parent for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    folders |= {registry.PACKAGE_REGISTRY, ROOT / "training" / "held_out_runs", ROOT / "tests"}
    missing = sorted(str(f.relative_to(ROOT)) + "/" for f in folders if str(f.relative_to(ROOT)) + "/" not in layout)
    assert not missing, f"the README's layout section does not show {missing}"


def test_the_readme_is_short_and_its_commands_run_in_the_projects_environment():
    """A newcomer reads it in minutes, copies commands that work (`python -m ...` outside `.venv` fails
    with ModuleNotFoundError), and every link leads somewhere in the repository."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, "the README grew past 300 lines: research results go to training/RESEARCH.md"
    commands = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()]
    bare = [line for line in commands if re.search(r"(^|\s)python3? -m ", line)]
    assert commands and not bare, f"run Python through .venv/bin/python: {bare}"
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert links and not missing, f"README links to missing files: {missing}"


# --------------------------------------------------------------------------- short signatures

MAX_PARAMETERS = 7  # our issue's rule: more settings than this travel together in a small frozen dataclass


def _parameter_count(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Parameters a caller can pass: positional, keyword-only, and *args and **kwargs as one each; a
    leading `self` or `cls` is not counted."""
    args = function.args
    named = [a.arg for a in (*args.posonlyargs, *args.args)]
    if named and named[0] in ("self", "cls"):
        named = named[1:]
    return len(named) + len(args.kwonlyargs) + (args.vararg is not None) + (args.kwarg is not None)


def _long_signatures(source: str) -> list[tuple[int, str, int]]:
    """(line, name, count) of every function (methods and nested ones too) with too many parameters."""
    return [(node.lineno, node.name, _parameter_count(node)) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _parameter_count(node) > MAX_PARAMETERS]


def test_no_function_takes_more_than_seven_parameters():
    """Settings that travel together are one value (a frozen dataclass), so no call needs eight arguments."""
    sample = ("def fine(self, a, b, c, d, e, f, g): ...\n"
              "def too_many(a, b, c, d, e, f, *rest, **options): ...\n"
              "class K:\n    async def method(cls, a, b, c, d, e, f, g, *, h=0): ...\n")
    assert [(name, count) for _, name, count in _long_signatures(sample)] == [("too_many", 8), ("method", 8)]
    offenders = [f"{path.relative_to(ROOT)}:{line} {name} takes {count}"
                 for package in ("dashboard", "model", "training") for path in sorted((ROOT / package).rglob("*.py"))
                 for line, name, count in _long_signatures(path.read_text(encoding="utf-8"))]
    assert not offenders, f"functions with more than {MAX_PARAMETERS} parameters:\n" + "\n".join(offenders)
