"""The notebooks in docs/notebooks run from top to bottom, and are committed without outputs.

They are executed here through nbclient on an ipykernel running this Python, in a temporary
folder, so a notebook that stops working with today's code fails the suite. Their cells assert
what the prose claims (gradients agree, errors have the documented sizes). Outputs are not
committed: running the notebook makes them, and stored ones could only go stale.
"""
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")   # [text](target) in Markdown cells


class ThisPythonKernel(KernelManager):
    """ipykernel's own kernel spec only: it starts this interpreter, whatever else is installed."""

    def __init__(self, **kwargs):
        super().__init__(kernel_spec_manager=KernelSpecManager(kernel_dirs=[]), **kwargs)


def test_the_path_from_zero_is_there_and_linked_from_the_first_notebook():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]
    first = "\n".join(c.source for c in nbformat.read(NOTEBOOKS[0], as_version=4).cells
                      if c.cell_type == "markdown")
    assert {p.name for p in NOTEBOOKS[1:]} <= set(LINK.findall(first))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs_and_its_links_resolve(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{path.name}: a cell has stored outputs; clear them before committing"
        else:
            for target in LINK.findall(cell.source):
                if "://" not in target:
                    assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", kernel_manager_class=ThisPythonKernel,
                            timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    assert client.create_kernel_manager().kernel_spec.argv[0] == sys.executable
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{path.name}: {error}", pytrace=False)
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if {"image/png", "image/svg+xml"} & set(o.get("data", {}))]
    assert figures, f"{path.name} drew no picture"
    assert not list(tmp_path.iterdir()), "notebooks should write no files"
