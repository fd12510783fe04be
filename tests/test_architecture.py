"""The package tree shows the pipeline: every module imports only its own layer or those below it,
there are no import cycles, and no module grows past 400 lines. See the README's Architecture."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digest"

# Lowest first. A module may import modules of its own layer or a lower one, never a higher one.
LAYERS = (
    (
        "errors",
        "models",
        "periods",
        "tokens",
        "text",
        "cron",
        "owners",
        "clock",
        "editions",
        "addresses",
        "netpolicy",
        "database_url",
        "locales",
        "dkim",
        "headers",
        "verp",
        "watchdog",
        "signing",
    ),
    ("config", "config_values"),
    ("sources", "store"),
    ("ingest", "render", "mail", "letters", "subscribers", "signup", "preferences", "review"),
    ("compose", "transport", "confirmation", "wire", "pipelining", "smtp_replies"),
    ("send",),
    ("bounces", "schedule", "web"),
    ("commands", "cli", "__main__"),
)
LAYER_OF = {name: n for n, names in enumerate(LAYERS) for name in names}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path, name: str) -> set[str]:
    """Every digest module `path` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], base])
            found.add(base.rstrip("."))
            found |= {f"{base}.{a.name}" for a in node.names}
    known = modules()
    return {m for m in found if m in known and m != name}


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return LAYER_OF.get(top, -1)


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in modules() if m != "digest" and layer(m) < 0)
    assert not missing, f"add these to LAYERS (and to the README's Architecture): {missing}"


def test_no_module_imports_one_above_it() -> None:
    upward = [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, path in modules().items()
        for target in sorted(imports_of(path, name))
        if name != "digest" and target != "digest" and layer(target) > layer(name)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = {name: imports_of(path, name) for name, path in modules().items()}
    for start in graph:
        seen, stack = set(), [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for target in graph[node]:
                if target == start and not _is_package_of(start, node):
                    pytest.fail("import cycle: " + " -> ".join([*trail, target]))
                if target not in seen:
                    seen.add(target)
                    stack.append((target, [*trail, target]))


def _is_package_of(package: str, module: str) -> bool:
    """A package's __init__ re-exporting its own modules is not a cycle."""
    return module.startswith(package + ".")


def test_no_module_is_over_400_lines() -> None:
    long = {
        name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long
