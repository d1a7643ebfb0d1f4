import argparse
import json

import nbformat
import pytest

from stockmind.evaluation.notebook_runner import INJECTED_TAG, _parameter, parameter_defaults, with_parameters
from stockmind.evaluation.outputs import Outputs, read_metrics


def _notebook(*tags_per_cell):
    cells = [nbformat.v4.new_code_cell(f"x{i} = {i}", metadata={"tags": list(tags)})
             for i, tags in enumerate(tags_per_cell)]
    return nbformat.v4.new_notebook(cells=cells)


def test_parameters_go_in_a_cell_right_after_the_parameters_cell():
    notebook = with_parameters(_notebook([], ["parameters"], []), {"SIZE": 3, "MODEL": "m"})
    injected = notebook.cells[2]
    assert injected.metadata["tags"] == [INJECTED_TAG]
    assert injected.source == "SIZE = 3\nMODEL = 'm'"
    assert len(notebook.cells) == 4


def test_the_original_notebook_is_left_unchanged():
    original = _notebook(["parameters"])
    with_parameters(original, {"A": 1})
    assert len(original.cells) == 1


@pytest.mark.parametrize("tags", [([], []), (["parameters"], ["parameters"])])
def test_exactly_one_parameters_cell_is_required(tags):
    with pytest.raises(ValueError, match="exactly one cell tagged 'parameters'"):
        with_parameters(_notebook(*tags), {})


def test_command_line_parameters_are_python_literals():
    assert _parameter("TENANT_SIZES=[100, 200]") == ("TENANT_SIZES", [100, 200])
    assert _parameter("MODEL='openai/clip-vit-base-patch32'") == ("MODEL", "openai/clip-vit-base-patch32")
    with pytest.raises(argparse.ArgumentTypeError, match="quote strings"):
        _parameter("MODEL=openai/clip")
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=PYTHON_LITERAL"):
        _parameter("no equals sign")


def test_metrics_are_written_as_json_with_unmeasurable_values_as_null(tmp_path):
    outputs = Outputs(tmp_path / "nb")
    outputs.metrics({"recall": 0.5, "lag": float("nan"), "points": [{"p50": float("inf")}]})
    assert read_metrics(tmp_path / "nb") == {"lag": None, "points": [{"p50": None}], "recall": 0.5}
    json.loads((tmp_path / "nb" / "metrics.json").read_text())


def test_parameter_defaults_are_the_literal_assignments_of_the_parameters_cell():
    notebook = _notebook([], ["parameters"])
    notebook.cells[1].source = ('DATABASE_URL = None\nSTATE_DIR = "../.stockmind"  # where\n'
                                'SIZES = [1, 2]\nNOW = time.time()')
    assert parameter_defaults(notebook) == {"DATABASE_URL": None, "STATE_DIR": "../.stockmind", "SIZES": [1, 2]}
