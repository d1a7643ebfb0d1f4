"""The committed notebooks carry no outputs and are runnable by the notebook runner."""

from pathlib import Path

import nbformat
import pytest

from stockmind.evaluation.notebook_runner import KERNEL, PARAMETERS_TAG

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_four_evaluation_notebooks():
    assert [path.stem for path in NOTEBOOKS] == ["01_retrieval_quality", "02_index_recall", "03_latency", "04_ingest"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_committed_notebook_has_no_outputs_and_one_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "strip the outputs"
    assert sum(PARAMETERS_TAG in cell.metadata.get("tags", []) for cell in code) == 1
    assert notebook.metadata.kernelspec.name == KERNEL
