"""The code's shape: no import cycles between the project's modules, and no app reaching into another's API views."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "billing", "usage", "aragora_site")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """Modules of the project that `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in known}
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    known = {_module_name(p) for p in files}
    # a package's __init__ naming its own submodules (from pkg import sub) is not a cycle
    return {_module_name(p): _imports(p, known) - {_module_name(p)} for p in files}


def test_no_module_imports_itself_back_through_others():
    graph = _graph()
    visiting, done, cycles = set(), set(), []

    def visit(module: str, trail: list[str]) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append([*trail[trail.index(module) :], module])
            return
        visiting.add(module)
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_no_app_imports_another_apps_api_views():
    offenders = [
        (module, target)
        for module, targets in _graph().items()
        for target in targets
        if "apis" in target.split(".")[1:] and target.split(".")[0] != module.split(".")[0]
    ]
    assert offenders == []
