"""CONTRIBUTING.md's list of layers says what the import-linter layers contract in pyproject.toml enforces."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def contract_layers() -> list[str]:
    """The layers contract's `layers` list (sliced out as text: tomllib is not on Python 3.10)."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    contract = pyproject[pyproject.index('type = "layers"') :]
    listed = contract[contract.index("layers = [") : contract.index("\n]")]
    return re.findall(r'"([^"]+)"', listed)


def test_contributing_lists_the_contracts_layers_in_order():
    written = re.findall(r"^\d+\. `([^`]+)`", (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert written == contract_layers() and len(written) > 3
