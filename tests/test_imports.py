"""The package's import graph has no cycle, between modules or between its parts.

Every `import` and `from ... import` inside soccer_td3 counts, at module level or inside a
function (a lazy import is still a dependency). A part is a subpackage (envs, agent, training,
reports, tuning) or a top-level module; data flows config -> envs -> agent -> training ->
reports -> cli, so no part may reach back to one that imports it.
"""

import ast
from pathlib import Path

import soccer_td3

ROOT = Path(soccer_td3.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_edges() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    edges[name].add(target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def part(module: str) -> str:
    pieces = module.split(".")
    return ".".join(pieces[:2])


def test_no_import_cycle_between_modules():
    edges = import_edges()
    assert len(edges) > 30  # the walk found the package
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_no_import_cycle_between_parts():
    parts: dict[str, set[str]] = {}
    for source, targets in import_edges().items():
        if source == "soccer_td3":
            continue
        parts.setdefault(part(source), set()).update(
            part(t) for t in targets if part(t) != part(source) and t != "soccer_td3"
        )
    assert find_cycle(parts) is None, " -> ".join(find_cycle(parts))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
