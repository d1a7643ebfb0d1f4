"""Run an evaluation notebook headless with other parameters (used by the tests and from a shell).

The parameters are set papermill's way: a cell with the new values is inserted right after the
cell tagged `parameters`, so the notebook's defaults stay readable and are overridden in one place.

    python -m stockmind.evaluation.notebook_runner notebooks/01_retrieval_quality.ipynb \\
        -p IMAGES_PER_TENANT=48 -p OUTPUT_DIR='"outputs/small"' --save notebooks/outputs/01.ipynb
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
KERNEL = "python3"  # the kernel of the interpreter running this (jupyter_client maps "python" to it)


def with_parameters(notebook: nbformat.NotebookNode, parameters: dict) -> nbformat.NotebookNode:
    """A copy of `notebook` with a cell assigning `parameters` after its `parameters` cell."""
    notebook = nbformat.from_dict(notebook)
    positions = [i for i, cell in enumerate(notebook.cells) if PARAMETERS_TAG in cell.metadata.get("tags", [])]
    if len(positions) != 1:
        raise ValueError(f"expected exactly one cell tagged {PARAMETERS_TAG!r}, found {len(positions)}")
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    notebook.cells.insert(positions[0] + 1, cell)
    return notebook


def parameter_defaults(notebook: nbformat.NotebookNode) -> dict:
    """The literal assignments (`NAME = <Python literal>`) of the notebook's `parameters` cell."""
    cells = [cell for cell in notebook.cells if PARAMETERS_TAG in cell.metadata.get("tags", [])]
    defaults = {}
    for statement in ast.parse(cells[0].source).body if cells else []:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            try:
                defaults[statement.targets[0].id] = ast.literal_eval(statement.value)
            except ValueError:
                pass  # a computed default: not ours to evaluate
    return defaults


def announce_target(path: Path, parameters: dict) -> None:
    """With no database given, bring the notebook's local stack up before its kernel does, and say
    so here: the kernel's own output goes into the executed notebook, not to this shell."""
    values = {**parameter_defaults(nbformat.read(path, as_version=4)), **parameters}
    if values.get("DATABASE_URL") or os.environ.get("DATABASE_URL") or not values.get("STATE_DIR"):
        return
    from stockmind.evaluation.target import ensure_local_stack

    # The kernel runs in the notebook's folder, so that is where its relative STATE_DIR starts.
    stack, was_running = ensure_local_stack(Path(path).resolve().parent / values["STATE_DIR"])
    how = "using the local stack running in" if was_running else "brought the local stack up in"
    print(f"no DATABASE_URL: {how} {stack.state_dir} (`stockmind local down` stops it)", flush=True)


def execute_notebook(path: str | Path, parameters: dict | None = None, save_to: str | Path | None = None,
                     timeout_s: int = 900) -> nbformat.NotebookNode:
    """Execute the notebook in its own folder (relative paths in it resolve there); a failing cell
    raises nbclient's CellExecutionError, with the cell's traceback."""
    path = Path(path).resolve()
    notebook = with_parameters(nbformat.read(path, as_version=4), parameters or {})
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    finally:
        if save_to is not None:
            Path(save_to).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, save_to)
    return notebook


def _parameter(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=PYTHON_LITERAL, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a Python literal (quote strings)") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute an evaluation notebook headless.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("-p", "--parameter", type=_parameter, action="append", default=[],
                        help="NAME=PYTHON_LITERAL, e.g. -p IMAGES_PER_TENANT=48 "
                             "-p MODEL='\"openai/clip-vit-base-patch32\"'")
    parser.add_argument("--save", type=Path, help="write the executed notebook (with outputs) here")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    announce_target(args.notebook, dict(args.parameter))
    execute_notebook(args.notebook, dict(args.parameter), args.save, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
