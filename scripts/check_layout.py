"""The house rules `make lint` checks beside ruff and mypy (docs/architecture.md):

- no import circle between helpdesk's modules, imports inside functions included (only
  imports under ``if TYPE_CHECKING:`` are left out: they never run);
- no package folder holds more than 12 modules directly;
- no module is longer than 400 lines.

Prints what breaks a rule and exits 1, or prints a summary and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

PACKAGE = "helpdesk"
MAX_MODULES = 12
MAX_LINES = 400
ROOT = Path(__file__).resolve().parent.parent
SKIP = ("migrations", "templates", "static", "__pycache__")


def import_circles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest circle through each direct import that is part of a circle."""
    circles: set[tuple[str, ...]] = set()
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                circle = (importer, *back)
                start = circle.index(min(circle[:-1]))  # one spelling per circle
                circles.add(circle[start:-1] + circle[:start] + (circle[start],))
    return sorted(circles)


def crowded_folders() -> list[str]:
    """Package folders with more than MAX_MODULES modules directly inside."""
    found = []
    for folder in sorted(p for p in (ROOT / PACKAGE).rglob("*") if p.is_dir()):
        if any(part in SKIP for part in folder.relative_to(ROOT).parts):
            continue
        modules = sorted(folder.glob("*.py"))
        if len(modules) > MAX_MODULES:
            found.append(f"{folder.relative_to(ROOT)}/ holds {len(modules)} modules")
    return found


def long_modules() -> list[str]:
    """Modules longer than MAX_LINES lines."""
    found = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        if any(part in SKIP for part in path.relative_to(ROOT).parts):
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append(f"{path.relative_to(ROOT)} has {lines} lines")
    return found


def main() -> int:
    """Check every rule; report all that fail."""
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True, cache_dir=None)
    problems = [" -> ".join(circle) for circle in import_circles(graph)]
    problems = [f"import circle: {p}" for p in problems] + crowded_folders() + long_modules()
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(
        f"layout: {len(graph.modules)} modules, no import circle, no folder over "
        f"{MAX_MODULES} modules, no module over {MAX_LINES} lines"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
