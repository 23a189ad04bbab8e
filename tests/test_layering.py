"""The package's layers: each module imports only from its own layer or those below it, and
module-level imports form no cycle (a function's own import may defer a heavy one, never go
up)."""

import ast
from pathlib import Path

import soccer_td3

PACKAGE = Path(soccer_td3.__file__).parent
# Bottom to top. A module of a layer may import from any layer at or below its own.
LAYERS = (
    ("errors", "files", "cores"),
    ("skills",),
    ("envs",),
    ("config",),
    ("agent",),
    ("training",),
    ("reports", "tuning", "hierarchy"),
    ("export",),
    ("flags",),
    ("cli", "__main__", "tuning.command"),  # tuning.command: the `tune` command's flags
)
LEVEL = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("soccer_td3", *parts)).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text())
    return found


def imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module] if node.module.startswith("soccer_td3.") else []
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("soccer_td3.")]
    return []


def layer(module: str) -> int:
    parts = module.split(".")[1:]
    return LEVEL.get(".".join(parts[:2]), LEVEL[parts[0]])


def test_every_module_sits_in_a_layer():
    assert {name.split(".")[1] for name in modules() if name != "soccer_td3"} <= set(LEVEL)


def test_nothing_is_imported_from_a_layer_above():
    upward = [
        f"{name} imports {target}"
        for name, tree in modules().items()
        if name != "soccer_td3"
        for node in ast.walk(tree)
        for target in imported(node)
        if layer(target) > layer(name)
    ]
    assert not upward, upward


def test_module_level_imports_form_no_cycle():
    graph = {
        name: {target for node in tree.body for target in imported(node)}
        for name, tree in modules().items()
    }
    visiting, done = set(), set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in visiting, " -> ".join([*path, module])
        if module in done or module not in graph:
            return
        visiting.add(module)
        for target in graph[module]:
            visit(target, [*path, module])
        visiting.discard(module)
        done.add(module)

    for module in graph:
        visit(module, [])
