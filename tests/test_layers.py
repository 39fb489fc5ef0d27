"""The layers point one way, experiments -> search -> env -> costmodel: a static scan of every
import statement (function-level ones included), so plain ``pytest`` catches what ``lint-imports``
(the contract in pyproject.toml, run by .ci/run) would."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("experiments", "search", "env", "costmodel")  # top to bottom


def imported_packages(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file (relative ones stay in its package)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_one_above_it(layer):
    above = set(LAYERS[: LAYERS.index(layer)])
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files
    bad = {
        str(f.relative_to(ROOT)): sorted(imported_packages(f) & above)
        for f in files
        if imported_packages(f) & above
    }
    assert not bad, f"{layer} may import only the layers below it; found {bad}"


def test_scan_sees_function_level_and_dotted_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "import numpy as np\nfrom . import x\n"
        "def g():\n    import search.api\n    from env.common import a\n"
    )
    assert imported_packages(f) == {"numpy", "search", "env"}
