"""The course's design, kept true by a test (docs: design.md, "Layout: a classroom and a workshop").

    course_utils/*.py          the classroom: what notebooks import
    course_utils/recipes/      the workshop: one training recipe per shipped model and the one record
                               writer; never imported by a notebook nor by the classroom (except the
                               ``course_utils/train.py`` shim, which delegates to it)
    course_utils/checks/, solutions/   exercise checks and reference solutions

Everything is read from the files (``ast`` for Python, ``json`` for notebooks, the README's course map),
so there is no hand list of modules to keep up to date. Nothing in ``course_utils`` is imported.

Rules: no import cycle in ``course_utils``; no import by a string outside the registry and packages
loading their own submodules; the registry loads no module that imports the registry back; the
classroom's import graph is at most 8 levels deep; no module over 400 lines; no notebook code cell
over 30 lines (the Colab set-up cell aside); nbval markers are cell tags, never ``NBVAL_`` comments; no notebook and no classroom module imports the recipes;
each notebook imports the modules the README's course map names for it; each classroom module has
its ``tests/test_<module>.py``.
"""
from __future__ import annotations

import ast
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "course_utils"
PACKAGE_DIR = ROOT / PACKAGE
NOTEBOOKS_DIR = ROOT / "notebooks"
README = ROOT / "README.md"
TESTS_DIR = ROOT / "tests"
RECIPES = f"{PACKAGE}.recipes"
SHIM = f"{PACKAGE}.train"            # classroom command line; may import (delegate to) the recipes

MAX_MODULE_LINES = 400
MAX_CELL_LINES = 30
MAX_CLASSROOM_LEVELS = 8
#: Classroom modules that need no tests/test_<name>.py of their own. The train shim is exempt only
#: while it is a shim, i.e. imports course_utils.recipes (its recipes have their own tests).
NO_TEST_FILE_NEEDED = {"__init__"}


# ----------------------------------------------------------------------------------------------------
# The import graph of course_utils, built with ast
# ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Edge:
    source: str          # importing module, dotted ("course_utils.denoiser")
    target: str          # imported module, dotted
    line: int
    deferred: bool       # inside a function body
    kind: str = "import"     # "import" | "autoload" (package loads its submodules) | "registry" (a string)

    def where(self) -> str:
        return f"{_path_of(self.source)}:{self.line}" + (" (in a function)" if self.deferred else "")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    """Every module of course_utils (any depth): dotted name → file."""
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py")) if "__pycache__" not in p.parts}


def _path_of(module: str) -> str:
    return modules()[module].relative_to(ROOT).as_posix()


def short(module: str) -> str:
    """``course_utils.gan`` → ``gan``; ``course_utils.checks.nb04_x`` → ``checks.nb04_x``."""
    return module[len(PACKAGE) + 1:] if module.startswith(PACKAGE + ".") else module


def _is_package(module: str) -> bool:
    return modules()[module].name == "__init__.py"


def _resolve_from(module: str, level: int, name: str | None) -> str:
    """The absolute module a ``from <dots><name> import …`` in ``module`` names."""
    if level == 0:
        return name or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    base = package.split(".")
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _known(target: str) -> str | None:
    """The course_utils module ``target`` names, or the closest enclosing one that exists."""
    while target.startswith(PACKAGE):
        if target in modules():
            return target
        target = target.rpartition(".")[0]
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
           (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


DYNAMIC_IMPORTERS = {"import_module", "__import__", "run_module", "spec_from_file_location"}


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_registry(module: str) -> bool:
    """The recipe registry: the train shim, or the recipes package itself (``__init__``/``__main__``)."""
    return module in (SHIM, RECIPES, f"{RECIPES}.__main__")


def _mentions_own_name(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id in ("__name__", "__package__") for n in ast.walk(node))


@dataclass
class ModuleImports:
    edges: list[Edge]
    dynamic: list[tuple[int, str]]        # (line, source text) of string imports the graph cannot see


@functools.lru_cache(maxsize=None)
def parse_module(module: str) -> ModuleImports:
    path = modules()[module]
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    edges: list[Edge] = []
    dynamic: list[tuple[int, str]] = []

    def add(target: str, line: int, deferred: bool, kind: str = "import") -> None:
        known = _known(target)
        if known and known != module:
            edges.append(Edge(module, known, line, deferred, kind))

    def visit(node: ast.AST, deferred: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:           # the TYPE_CHECKING branch never runs
                visit(child, deferred)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, deferred)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, node.level, node.module)
            if base.startswith(PACKAGE):
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in modules() else base, node.lineno, deferred)
        elif isinstance(node, ast.Call) and _call_name(node) in DYNAMIC_IMPORTERS:
            if _is_package(module) and _mentions_own_name(node):
                # a package loading its own submodules (checks/, solutions/): edges to all of them
                for sub in modules():
                    if sub.rpartition(".")[0] == module:
                        add(sub, node.lineno, deferred, "autoload")
            elif not _is_registry(module):
                first = node.args[0] if node.args else None
                harmless = isinstance(first, ast.Constant) and isinstance(first.value, str) \
                    and not first.value.startswith((PACKAGE, "."))
                if not harmless:
                    dynamic.append((node.lineno, ast.get_source_segment(text, node) or "?"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _is_registry(module):
            # registry entries such as "course_utils.denoiser:build" are edges the import graph can't see
            name = node.value.partition(":")[0]
            if re.fullmatch(rf"{PACKAGE}(\.\w+)+", name) and name in modules():
                add(name, node.lineno, deferred, "registry")
        inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return ModuleImports(edges, dynamic)


@functools.lru_cache(maxsize=None)
def graph(kinds: tuple[str, ...] = ("import",)) -> dict[str, dict[str, Edge]]:
    """module → {imported module → first edge}, over the edges of the given kinds (by default the
    import statements; "autoload" and "registry" are the imports made by strings)."""
    g: dict[str, dict[str, Edge]] = {m: {} for m in modules()}
    for m in modules():
        for e in parse_module(m).edges:
            if e.kind in kinds:
                g[m].setdefault(e.target, e)
    return g


def strongly_connected(g: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted; components in reverse topological order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            connect(v)
    return out


def simple_cycles(g: dict[str, dict[str, Edge]], component: list[str], limit: int = 20) -> list[list[str]]:
    """The elementary cycles inside one component, each starting at its smallest module."""
    members = set(component)
    cycles: list[list[str]] = []
    for start in component:
        def walk(path: list[str]) -> None:
            for w in sorted(g[path[-1]]):
                if len(cycles) >= limit:
                    return
                if w == start:
                    cycles.append(path + [start])
                elif w in members and w > start and w not in path:
                    walk(path + [w])
        walk([start])
    return cycles


def chain(g: dict[str, dict[str, Edge]], path: list[str]) -> str:
    """``a → b → a`` with where each import is written."""
    arrows = " → ".join(short(m) for m in path)
    where = "; ".join(f"{short(a)}→{short(b)} at {g[a][b].where()}" for a, b in zip(path, path[1:]))
    return f"{arrows}   ({where})"


def find_path(g: dict[str, dict[str, Edge]], start: str, goal: str) -> list[str] | None:
    """A shortest import path from start to goal (breadth first), or None."""
    previous: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(g[v]):
                if w not in previous:
                    previous[w] = v
                    if w == goal:
                        path = [w]
                        while previous[path[-1]] is not None:
                            path.append(previous[path[-1]])
                        return path[::-1]
                    nxt.append(w)
        frontier = nxt
    return None


def classroom() -> list[str]:
    """The flat classroom: course_utils/*.py (not __init__, not the subpackages)."""
    return [m for m, p in modules().items() if p.parent == PACKAGE_DIR and p.name != "__init__.py"]


def longest_paths(nodes: list[str]) -> dict[str, list[str]]:
    """For each module, the longest simple import path starting at it, in the graph restricted to
    ``nodes``. Its length is the module's level: 1 for a module importing none of ``nodes``. A cycle
    is unrolled (a path may go a → b but never back to a), so modules in a cycle sit on different
    levels and the cycle adds to the depth instead of hiding in one node."""
    members = set(nodes)
    g = {m: sorted(t for t in graph()[m] if t in members) for m in nodes}
    acyclic = all(len(c) == 1 for c in strongly_connected({m: dict.fromkeys(g[m]) for m in nodes})) \
        and not any(m in g[m] for m in nodes)
    memo: dict[str, list[str]] = {}

    def longest(v: str, seen: frozenset[str]) -> list[str]:
        if acyclic and v in memo:
            return memo[v]
        best = [v]
        for w in g[v]:
            if w not in seen:
                p = longest(w, seen | {w})
                if len(p) + 1 > len(best):
                    best = [v] + p
        memo[v] = best
        return best

    return {m: longest(m, frozenset({m})) for m in nodes}


# ----------------------------------------------------------------------------------------------------
# Notebooks and the README
# ----------------------------------------------------------------------------------------------------

def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _colab_constants() -> tuple[str, str]:
    """SETUP_TAG and SETUP_MARKER, read from course_utils/colab.py (how the Colab cell is found)."""
    values = {}
    for node in ast.parse((PACKAGE_DIR / "colab.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("SETUP_TAG", "SETUP_MARKER"):
                values[node.targets[0].id] = ast.literal_eval(node.value)
    return values["SETUP_TAG"], values["SETUP_MARKER"]


def is_colab_cell(cell: dict) -> bool:
    """The rule of ``colab.find_setup_cell``: tagged SETUP_TAG, or starting with SETUP_MARKER."""
    tag, marker = _colab_constants()
    return tag in cell.get("metadata", {}).get("tags", []) or _source(cell).startswith(marker)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


@functools.lru_cache(maxsize=None)
def code_cells(path: Path) -> list[tuple[int, dict]]:
    """(index among all cells, cell) for every code cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(i, c) for i, c in enumerate(cells) if c.get("cell_type") == "code"]


_IMPORT_RE = re.compile(rf"^\s*(?:from\s+({PACKAGE}(?:\.\w+)*)\s+import\s+([^#\n]+)|import\s+([^#\n]+))", re.M)


def imported_names(source: str) -> list[tuple[int, str]]:
    """(line, dotted name under course_utils) for every course_utils module a piece of code imports."""
    found: list[tuple[int, str]] = []

    def note(line: int, dotted: str) -> None:
        if dotted == PACKAGE or dotted.startswith(PACKAGE + "."):
            found.append((line, dotted))

    clean = "\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in source.splitlines())
    try:
        tree = ast.parse(clean)
    except SyntaxError:                           # fall back to lines that look like imports
        for m in _IMPORT_RE.finditer(clean):
            line = clean.count("\n", 0, m.start()) + 1
            if m.group(1):
                for name in m.group(2).strip("() \\").split(","):
                    note(line, f"{m.group(1)}.{name.split()[0]}" if name.split() else m.group(1))
                note(line, m.group(1))
            else:
                for name in m.group(3).split(","):
                    if name.split():
                        note(line, name.split()[0])
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                note(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            note(node.lineno, node.module)
            for alias in node.names:
                note(node.lineno, f"{node.module}.{alias.name}")   # `from course_utils import gan`
    return found


def notebook_imports(path: Path) -> list[tuple[int, int, str]]:
    """(cell index, line, dotted name) of each course_utils name the notebook's code imports."""
    return [(i, line, name) for i, cell in code_cells(path) for line, name in imported_names(_source(cell))]


def notebook_modules(path: Path) -> set[str]:
    """The course_utils modules a notebook imports, relative names with their packages ("gan", "checks")."""
    out = set()
    for _, _, name in notebook_imports(path):
        parts = short(name).split(".") if name != PACKAGE else []
        out.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return {m for m in out if f"{PACKAGE}.{m}" in modules()}     # not the functions it imports


@dataclass(frozen=True)
class MapRow:
    line: int
    notebook: str             # "notebooks/04_training_a_denoiser.ipynb"
    modules: tuple[str, ...]


@functools.lru_cache(maxsize=None)
def course_map() -> tuple[MapRow, ...]:
    """Rows of the table under "## Course map" in README.md."""
    lines = README.read_text(encoding="utf-8").splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip().lower() == "## course map")
    except StopIteration:
        return ()
    rows: list[MapRow] = []
    for n, line in enumerate(lines[start + 1:], start=start + 2):
        if line.startswith("## "):
            break
        cols = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
        link = re.search(r"\]\(([^)]+\.ipynb)\)", cols[0]) if cols else None
        if link and len(cols) >= 3:
            rows.append(MapRow(n, link.group(1), tuple(re.findall(r"`([^`]+)`", cols[2]))))
    return tuple(rows)


# ----------------------------------------------------------------------------------------------------
# 1. No import cycle, and no import the graph cannot see
# ----------------------------------------------------------------------------------------------------

def test_no_import_cycles():
    g = graph()
    cycles = [c for comp in strongly_connected(g) if len(comp) > 1 for c in simple_cycles(g, comp)]
    cycles += [[m, m] for m in g if m in g[m]]
    assert not cycles, "import cycles in course_utils (module-level and in-function imports):\n  " + \
        "\n  ".join(chain(g, c) for c in cycles)


def test_no_imports_by_string():
    """importlib.import_module / __import__ hide edges from the graph: only the recipe registry may
    use them, and a package may use them to load its own submodules."""
    found = [f"{_path_of(m)}:{line}: {src}" for m in modules() for line, src in parse_module(m).dynamic]
    assert not found, "imports by string outside the recipe registry (the import graph can't see them):\n  " + \
        "\n  ".join(found)


def test_registry_loads_no_module_that_imports_it_back():
    """A registry entry such as "course_utils.denoiser:build" is an import made later, by a string:
    the module it names must not import the registry back, or there is a cycle the import graph can't
    see. A package loading its own submodules is fine (Python loads a package before its submodules),
    so recipes/__init__.py may hold the registry and the record writer its recipes import."""
    g = graph(("import", "autoload"))
    problems = []
    for m in modules():
        for e in parse_module(m).edges:
            if e.kind != "registry" or e.target.startswith(m + "."):   # a package's own submodules load it first
                continue
            back = find_path(g, e.target, m)
            if back:
                problems.append(f"{short(m)} ⇢ {short(e.target)} by the string at {e.where()}, and back: "
                                + chain(g, back))
    assert not problems, "cycles through the recipe registry:\n  " + "\n  ".join(problems)


# ----------------------------------------------------------------------------------------------------
# 2. Depth of the classroom
# ----------------------------------------------------------------------------------------------------

def test_classroom_import_depth():
    paths = longest_paths(classroom())
    depth = max((len(p) for p in paths.values()), default=0)
    by_level: dict[int, list[str]] = {}
    for m, p in paths.items():
        by_level.setdefault(len(p), []).append(short(m))
    table = "\n  ".join(f"level {lv:2d}: {', '.join(sorted(by_level[lv]))}" for lv in sorted(by_level))
    deepest = min((p for p in paths.values() if len(p) == depth), key=lambda p: [short(m) for m in p], default=[])
    assert depth <= MAX_CLASSROOM_LEVELS, \
        f"the classroom's import graph is {depth} levels deep (at most {MAX_CLASSROOM_LEVELS}; a module " \
        f"importing no other classroom module is level 1; cycles unrolled):\n  {table}\n" \
        f"  deepest: {' → '.join(short(m) for m in deepest)}"


# ----------------------------------------------------------------------------------------------------
# 3. Module length, 4. cell length
# ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", sorted(modules()), ids=short)
def test_module_length(module):
    n = len(modules()[module].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_MODULE_LINES, f"{_path_of(module)} has {n} lines (at most {MAX_MODULE_LINES})"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_notebook_cell_length(notebook):
    long = [f"cell {i}: {len(_source(c).splitlines())} lines"
            for i, c in code_cells(notebook) if not is_colab_cell(c) and len(_source(c).splitlines()) > MAX_CELL_LINES]
    assert not long, f"{notebook.name}: code cells over {MAX_CELL_LINES} lines: {', '.join(long)}"


# nbval reads a cell's tags as well as comment markers in its source; the course uses the tags only, so
# the reader's view holds no test scaffolding. A misspelt tag would silently leave a cell unchecked.
NBVAL_TAGS = {"nbval-check-output", "nbval-ignore-output", "nbval-skip", "nbval-raises-exception", "raises-exception"}


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_notebook_marks_nbval_cells_with_tags_not_comments(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    comments = [f"cell {i}" for i, c in enumerate(cells) if "NBVAL_" in _source(c)]
    assert not comments, (f"{notebook.name}: {', '.join(comments)} name an NBVAL_ marker in the source; "
                          "give a code cell the tag nbval-check-output (or nbval-ignore-output, nbval-skip) instead")
    tags = [(i, t) for i, c in enumerate(cells) for t in c.get("metadata", {}).get("tags", [])]
    unknown = [f"cell {i}: {t!r}" for i, t in tags if t.startswith("nbval") and t not in NBVAL_TAGS]
    assert not unknown, f"{notebook.name}: tags nbval does not know (a typo leaves the cell unchecked): {unknown}"
    assert any(t == "nbval-check-output" for _, t in tags), f"{notebook.name}: no cell tagged nbval-check-output"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_notebook_code_does_not_guard_a_test_bar(notebook):
    """A check that only guards a test's threshold lives in that test, not in the reader's cell."""
    bad = [f"cell {i}" for i, c in code_cells(notebook) if re.search(r"tests/|test_\w+\.py", _source(c))]
    assert not bad, f"{notebook.name}: {', '.join(bad)} point at tests/; move that check into the test it names"


# ----------------------------------------------------------------------------------------------------
# 5. The recipes stay in the workshop
# ----------------------------------------------------------------------------------------------------

def _is_recipes(dotted: str) -> bool:
    return dotted == RECIPES or dotted.startswith(RECIPES + ".")


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_notebook_does_not_import_recipes(notebook):
    bad = [f"cell {i} line {line}: {name}" for i, line, name in notebook_imports(notebook) if _is_recipes(name)]
    assert not bad, f"{notebook.name} imports the training recipes (workshop code): {'; '.join(bad)}"


def test_classroom_does_not_import_recipes():
    """Neither the classroom nor checks/ and solutions/ (which notebooks import) may import recipes;
    only the train shim delegates to them."""
    notebook_facing = [m for m in modules() if not _is_recipes(m) and m != SHIM]
    bad = [f"{e.where()}: {short(m)} imports {short(e.target)}"
           for m in notebook_facing for e in parse_module(m).edges if _is_recipes(e.target)]
    assert not bad, "modules notebooks can reach import the training recipes:\n  " + "\n  ".join(bad)


# ----------------------------------------------------------------------------------------------------
# 6. The README's course map
# ----------------------------------------------------------------------------------------------------

def test_course_map_has_a_row_per_notebook():
    rows = course_map()
    mapped = [r.notebook for r in rows]
    actual = [p.relative_to(ROOT).as_posix() for p in notebooks()]
    assert rows, f"no table found under '## Course map' in {README.name}"
    missing = sorted(set(actual) - set(mapped))
    unknown = sorted(set(mapped) - set(actual))
    twice = sorted({n for n in mapped if mapped.count(n) > 1})
    assert not (missing or unknown or twice), \
        f"README course map: notebooks with no row {missing}, rows naming no notebook {unknown}, rows twice {twice}"


@pytest.mark.parametrize("row", course_map(), ids=lambda r: Path(r.notebook).stem)
def test_notebook_imports_the_modules_the_course_map_names(row):
    path = ROOT / row.notebook
    assert path.exists(), f"README.md:{row.line} names {row.notebook}, which does not exist"
    assert row.modules, f"README.md:{row.line}: no `module` named for {row.notebook}"
    absent = [m for m in row.modules if not (PACKAGE_DIR / f"{m}.py").exists()]
    assert not absent, f"README.md:{row.line} names modules with no course_utils/<name>.py: {absent}"
    imported = notebook_modules(path)
    not_imported = [m for m in row.modules if m not in imported]
    assert not not_imported, \
        f"{path.name} does not import {not_imported}, which README.md:{row.line} names for it " \
        f"(it imports {sorted(imported)})"


# ----------------------------------------------------------------------------------------------------
# 7. A test file per classroom module
# ----------------------------------------------------------------------------------------------------

def test_each_classroom_module_has_a_test_file():
    exempt = set(NO_TEST_FILE_NEEDED)
    if SHIM in modules() and any(_is_recipes(e.target) for e in parse_module(SHIM).edges):
        exempt.add(short(SHIM))                  # the shim: its recipes are tested in test_recipes_*.py
    missing = sorted(short(m) for m in classroom()
                     if short(m) not in exempt and not (TESTS_DIR / f"test_{short(m)}.py").exists())
    assert not missing, "classroom modules with no tests/test_<module>.py: " + ", ".join(missing)


def _top_level_names(module: str) -> set[str]:
    """Names a course_utils module defines or imports at its top level (what `from module import x` can take)."""
    path = modules()[module]
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    if path.name == "__init__.py":                 # a package: its submodules can be imported from it too
        names.update(p.stem for p in path.parent.glob("*.py"))
        names.update(p.name for p in path.parent.iterdir() if p.is_dir())
    return names


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_every_name_a_notebook_imports_from_course_utils_exists(path):
    """Read from the code, so an import in a branch the committed run skipped (fast mode only) is checked too."""
    missing = []
    for i, cell in code_cells(path):
        clean = "\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in _source(cell).splitlines())
        try:
            tree = ast.parse(clean)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(PACKAGE):
                if node.module not in modules():
                    missing.append(f"cell {i}: no module {node.module}")
                    continue
                known = _top_level_names(node.module)
                missing += [f"cell {i}: {node.module} has no {a.name}" for a in node.names if a.name not in known]
    assert not missing, f"{path.name} imports names that do not exist: " + "; ".join(missing)
