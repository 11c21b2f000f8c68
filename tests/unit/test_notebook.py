"""docs/example.ipynb: stored without outputs, and runs top to bottom in a python3 kernel showing the card."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "example.ipynb"


def _outputs(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def test_notebook_is_valid_and_stored_without_outputs() -> None:
    """The committed notebook is nbformat 4, valid, with no outputs or execution counts (clean diffs)."""
    notebook = nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_notebook_runs_and_shows_the_decision_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cell runs without error; the Decision shows as the HTML card naming the lead actor."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no user profile leaks into the kernel
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiets the debugger's frozen-module note
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = _outputs(notebook)
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert errors == []
    html = [o.data["text/html"] for o in outputs
            if o.output_type in {"execute_result", "display_data"} and "text/html" in o.data]
    cards = [h for h in html if 'class="ansvar-decision"' in h]
    assert len(cards) == 2
    assert "Regionen (Akutmodtagelsen / skadestuen)" in cards[0]
    assert "[region_akutmodtagelse]" in cards[0]
    assert "frist overskredet 21.02.2026" in cards[1]
    assert any('class="dataframe' in h for h in html)  # the DataFrame of the Rebild decisions
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "er ansvarlig efter reglen" in text  # explain()
    assert "Hvorfor er Egen læge (Almen Praksis) [egen_laege] ikke ansvarlig" in text  # why_not()
