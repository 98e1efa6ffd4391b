"""Build the API reference from the docstrings with pdoc: ``python docs/api/build.py [OUT]``.

Every public module of minigrad and rnn gets a page (``rnn.__main__`` is the command line,
documented by its ``--help``), showing the names in the module's ``__all__``. Docstrings are
Markdown with a few reStructuredText roles: a name in backticks links to its documentation, and
so does ``:func:`name```. ``make docs`` writes ``out/api/index.html`` (git-ignored).
"""
from __future__ import annotations

import pkgutil
import sys
import warnings
from pathlib import Path

import pdoc.doc
import pdoc.render

import minigrad
import rnn

PACKAGES = [minigrad, rnn]
for _name in rnn.__all__:   # rnn exports lazily (module __getattr__); pdoc reads its namespace
    getattr(rnn, _name)
OUT = Path(__file__).resolve().parents[2] / "out" / "api"


def public_modules() -> list[str]:
    """Dotted names of the packages and every submodule whose name has no leading underscore."""
    names = [p.__name__ for p in PACKAGES]
    for package in PACKAGES:
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
                  if not any(part.startswith("_") for part in m.name.split("."))]
    return sorted(names)


def build(out: Path = OUT) -> list[Path]:
    """Write one HTML page per public module, ``index.html`` and the search index into `out`."""
    pdoc.render.configure(docformat="restructuredtext", show_source=False,
                          footer_text=f"minigrad {minigrad.__version__}")
    with warnings.catch_warnings():
        # The __init__ that a dataclass or NamedTuple generates has no module globals, so pdoc
        # cannot evaluate its postponed annotations (`np.ndarray`); they are shown as written.
        # Any other warning (a module that fails to import, a bad docstring) still shows.
        warnings.filterwarnings("ignore", r"Error parsing type annotation .* for \S+\.__init__")
        modules = {name: pdoc.doc.Module.from_name(name) for name in public_modules()}
        pages = []
        for name, module in modules.items():
            page = out / f"{name.replace('.', '/')}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(pdoc.render.html_module(module, modules), encoding="utf-8")
            pages.append(page)
        (out / "index.html").write_text(pdoc.render.html_index(modules), encoding="utf-8")
        (out / "search.js").write_text(pdoc.render.search_index(modules), encoding="utf-8")
    return pages


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    print(f"{len(build(target))} module pages in {target}/index.html")
