"""The package's imports point one way: building blocks <- models <- data <- training and
metrics <- recipes and exercises, with no cycle and no import of the package hidden inside a
function to dodge one."""

from __future__ import annotations

import ast
from pathlib import Path

import minivlm

ROOT = Path(minivlm.__file__).parent

# module -> layer; a module may import from its own layer and the ones above (lower numbers)
LAYERS = {
    0: ["_checks", "_hf", "distributed"],
    1: ["cnn", "attention", "positional", "transformer"],
    2: ["vit", "llama", "clip", "projectors", "llava", "quantize"],
    3: ["data", "conversation"],
    4: ["train", "metrics", "cost"],
    5: ["recipes", "exercises"],
    6: ["hub", "testing", "style", "viz", "diagrams"],
}
LAYER = {name: n for n, names in LAYERS.items() for name in names}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges() -> dict[str, dict[str, int]]:
    """module -> {imported package module: line}, every import in the file, nested or not."""
    edges = {}
    for path in sorted(ROOT.rglob("*.py")):
        module, package = _name(path), _name(path.parent / "__init__.py")
        found = {}
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - node.level + 1] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
                names = (
                    [target]
                    if node.module
                    else [f"{target}.{a.name}".strip(".") for a in node.names]
                )
                for name in names:
                    found[name] = node.lineno
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("minivlm."):
                        found[alias.name.removeprefix("minivlm.")] = node.lineno
        edges[module] = found
    return edges


def _top(module: str) -> str:
    return module.split(".")[0]


def test_every_module_has_a_layer():
    missing = {_top(m) for m in _edges() if m} - set(LAYER)
    assert not missing, f"modules without a layer in tests/test_layering.py: {sorted(missing)}"


def test_imports_point_from_lower_layers_to_higher_ones():
    wrong = []
    for module, imports in _edges().items():
        for target, line in imports.items():
            if module and target and LAYER[_top(target)] > LAYER[_top(module)]:
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "imports against the layering: " + "; ".join(wrong)


def test_models_do_not_import_the_data_layer():
    models = LAYERS[1] + LAYERS[2]
    for module, imports in _edges().items():
        if _top(module) in models:
            assert not [t for t in imports if LAYER[_top(t)] >= 3], module


def test_no_import_cycle_and_no_package_import_inside_a_function():
    edges = _edges()
    graph = {m: {t for t in imports if t in edges and t != m} for m, imports in edges.items()}
    for module in graph:  # a package's __init__ re-exports its modules: not a dependency
        graph[module] -= {t for t in graph[module] if t.startswith(module + ".") or not module}
    done: set[str] = set()
    while len(done) < len(graph):  # peel off the modules whose imports are all done
        ready = {m for m, deps in graph.items() if m not in done and deps <= done}
        assert ready, f"an import cycle among {sorted(set(graph) - done)}"
        done |= ready
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        nested = [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.level and n not in tree.body
        ]
        assert not nested, f"{path.name} imports the package inside a function, lines {nested}"
