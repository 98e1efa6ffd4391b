"""The API reference (pdoc, docs/api/build.py) builds, documents every public module and name,
has no broken links, and every cross-reference in a docstring reaches a documented name."""
import importlib
import importlib.util
import inspect
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "api" / "build.py")
build_api = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_api)

IDENTIFIER = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class Page(HTMLParser):
    """The element ids and the link targets of one HTML page."""

    def __init__(self, text):
        super().__init__()
        self.ids, self.hrefs = set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("api").resolve()  # links are compared as resolved paths
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pdoc warns about modules or docstrings it cannot read
        build_api.build(out)
    return out, {p: Page(p.read_text(encoding="utf-8")) for p in out.rglob("*.html")}


def module_of(page, out):
    return ".".join(page.relative_to(out).with_suffix("").parts)


def test_every_public_module_has_a_page_listing_its_public_names(site):
    out, pages = site
    names = build_api.public_modules()
    assert {"minigrad.ops", "minigrad.testing.strategies", "rnn.oracles.vanilla",
            "rnn.analysis"} <= set(names)
    assert {module_of(p, out) for p in pages} == {*names, "index"}
    for name in names:
        module = importlib.import_module(name)
        public = getattr(module, "__all__", None) or [  # pdoc's rule without __all__
            n for n, obj in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == name]
        ids = pages[out / f"{name.replace('.', '/')}.html"].ids
        assert not set(public) - ids, f"{name}: {sorted(set(public) - ids)} not in its page"
        assert inspect.getdoc(module), f"{name} has no module docstring"


def test_links_reach_an_existing_page_and_anchor(site):
    out, pages = site
    broken = []
    for page, parsed in pages.items():
        for href in parsed.hrefs:
            url = urlsplit(href)
            if url.scheme or href.startswith("${"):  # outside links; the search box's template
                continue
            target = (page.parent / url.path).resolve() if url.path else page
            if target not in pages or (url.fragment and url.fragment not in pages[target].ids):
                broken.append(f"{page.relative_to(out)}: {href}")
    assert not broken, "broken links:\n" + "\n".join(broken)


ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|exc|data|obj):`~?([\w.]+)(?:\(\))?`")


def docstrings(module):
    """(class name or None, docstring) for the module and everything it defines and shows."""
    yield None, inspect.getdoc(module) or ""
    names = getattr(module, "__all__", None) or vars(module)
    for name in names:
        obj = getattr(module, name)
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        yield obj.__name__ if inspect.isclass(obj) else None, inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            for member in vars(obj).values():
                if callable(member) or isinstance(member, property):
                    yield obj.__name__, inspect.getdoc(member) or ""


def targets(ref, module, cls):
    """The documented names a reference can mean, as pdoc resolves it."""
    yield ref
    yield f"{module.__name__}.{ref}"
    if cls:
        yield f"{module.__name__}.{cls}.{ref}"
    obj = module
    for attr in ref.split("."):
        obj = getattr(obj, attr, None)
    if inspect.ismodule(obj):
        yield obj.__name__
    elif obj is not None and hasattr(obj, "__qualname__"):
        yield f"{obj.__module__}.{obj.__qualname__}"


def test_cross_references_reach_documented_names(site):
    """Every :func:, :class:, :mod:, :meth: … reference in a docstring names something the
    reference documents (pdoc makes it a link only then; otherwise the reader is stuck)."""
    out, pages = site
    documented = set(build_api.public_modules())
    for page, parsed in pages.items():
        if page.name != "index.html":
            documented |= {f"{module_of(page, out)}.{i}" for i in parsed.ids
                           if IDENTIFIER.fullmatch(i)}
    assert "minigrad.tensor.Tensor.backward" in documented
    broken, checked = set(), 0
    for name in build_api.public_modules():
        module = importlib.import_module(name)
        for cls, doc in docstrings(module):
            for ref in ROLE.findall(doc):
                checked += 1
                if not documented & set(targets(ref, module, cls)):
                    broken.add(f"{name}{'.' + cls if cls else ''}: {ref}")
    assert checked > 30  # the docstrings hold dozens of references
    assert not broken, "references to undocumented names:\n" + "\n".join(sorted(broken))
