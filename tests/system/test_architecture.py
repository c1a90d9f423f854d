"""The house rules of docs/architecture.md, checked on the source: imports follow the flow,
nothing imports upward or in a circle, modules stay small, and every file the page names
exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOP = ("errors", "parsers", "ingest", "store", "notifier", "formbot")
ROOMS = ("settings", "poll", "reports", "jobs", "web", "cli", "demo")
# What each top-level room may import of ours (besides itself).
TOP_ALLOWED = {
    "errors": set(),
    "parsers": {"errors"},
    "store": {"errors"},
    "ingest": {"errors", "store"},
    "notifier": {"errors", "store"},
    "formbot": {"errors", "parsers", "ingest", "store", "notifier"},
}
# What each room of formbot/ may import (besides itself): the flow of the page.
ROOM_ALLOWED = {
    "settings": set(),
    "poll": {"settings"},
    "reports": {"settings"},
    "jobs": {"settings", "poll", "reports"},
    "web": {"settings", "poll", "reports", "jobs"},
    "demo": {"settings", "poll", "reports", "jobs", "web"},
    "cli": {"settings", "poll", "reports", "jobs", "web", "demo"},
}
MAX_LINES = 450   # "under ~400": a little room, never a 1,500-line module


def _modules() -> dict[str, Path]:
    found = {"errors": REPO / "errors.py"}
    for top in TOP[1:]:
        for path in (REPO / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, name: str, is_package: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in out if m.split(".")[0] in TOP}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, name, path.name == "__init__.py"):
            # the longest known module the import names
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "formbot" and len(parts) > 2 else None


def test_top_level_rooms_import_only_downstream() -> None:
    wrong = []
    for module, targets in _graph().items():
        top = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other != top and other not in TOP_ALLOWED[top]:
                wrong.append(f"{module} → {target}")
    assert wrong == []


def test_formbot_rooms_follow_the_flow() -> None:
    wrong = []
    for module, targets in _graph().items():
        room = _room(module)
        if room is None:
            continue
        for target in targets:
            other = _room(target)
            if other and other != room and other not in ROOM_ALLOWED[room]:
                wrong.append(f"{module} → {target}")
    assert wrong == []


def test_no_module_lives_loose_in_formbot() -> None:
    loose = [p.name for p in (REPO / "formbot").glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    rooms = {p.name for p in (REPO / "formbot").iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(ROOMS)


def test_no_circle_between_files() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ importing its own modules is how packages work
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_modules_stay_small() -> None:
    big = {str(path.relative_to(REPO)): n for path in _modules().values()
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert big == {}


def test_every_file_the_architecture_page_names_exists() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:formbot|parsers|ingest|store|notifier|tests|bench)/"
                           r"[\w/]+\.(?:py|j2|html|css))`", page))
    assert len(named) > 20
    missing = sorted(n for n in named if not (REPO / n).exists())
    assert missing == []
    functions = re.findall(r"`((?:formbot|parsers|ingest|store|notifier)/[\w/]+\.py)"
                           r"(?:::|:)(\w+)`", page)
    absent = [f"{file}:{func}" for file, func in functions
              if not re.search(rf"^\s*(?:async )?(?:def|class) {func}\b",
                               (REPO / file).read_text(encoding="utf-8"), re.M)]
    assert absent == []


def test_tests_mirror_the_rooms() -> None:
    tests = REPO / "tests"
    loose = sorted(p.name for p in tests.glob("test_*.py"))
    assert loose == []
    rooms = {p.name for p in tests.iterdir() if (p / "__init__.py").exists()}
    assert rooms == {"parsers", "ingest", "store", "notifier", *ROOMS, "system", "support"} - {
        "settings"}
