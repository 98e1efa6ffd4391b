"""The API reference (pdoc, docs/api/build.py) builds, documents every public module and name,
and has no broken links and no unresolved references to the project's own code."""
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
    """The ids, the hrefs and the code spans outside links and examples of one HTML page."""

    def __init__(self, text):
        super().__init__()
        self.ids, self.hrefs, self.unlinked_code = set(), [], []
        self._open = {"a": 0, "pre": 0, "code": 0}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag in self._open:
            self._open[tag] += 1

    def handle_endtag(self, tag):
        if tag in self._open:
            self._open[tag] -= 1

    def handle_data(self, data):
        if self._open["code"] and not self._open["a"] and not self._open["pre"]:
            self.unlinked_code.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pdoc warns about modules or docstrings it cannot read
        build_api.build(out)
    return out, {p: Page(p.read_text(encoding="utf-8")) for p in out.rglob("*.html")}


def module_of(page, out):
    return ".".join(page.relative_to(out).with_suffix("").parts)


def test_every_public_module_has_a_page_listing_its_public_names(site):
    out, pages = site
    names = build_api.public_modules()
    assert {"minigrad.ops", "minigrad.testing.strategies", "rnn.bptt", "rnn.analysis"} <= set(names)
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
    assert not broken, broken


def resolve(name, module):
    """The project object `name` means in `module`'s docstrings, or None."""
    head, *rest = name.split(".")
    candidates = [(module, [head, *rest])]
    parts = name.split(".")
    candidates += [(parts[:i], parts[i:]) for i in range(len(parts), 0, -1)]
    for base, attrs in candidates:
        if isinstance(base, list):
            try:
                base = importlib.import_module(".".join(base))
            except ImportError:
                continue
        obj = base
        try:
            for attr in attrs:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        home = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", None) or ""
        if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
            return obj if home.split(".")[0] in {"minigrad", "rnn"} else None
    return None


def test_references_to_project_code_are_links(site):
    """A name in backticks or a :func:/:class: role that means a function, class or module of
    the project must link to its documentation: unlinked, it names something undocumented."""
    out, pages = site
    unresolved = []
    for page, parsed in pages.items():
        if page.name == "index.html":
            continue
        module = importlib.import_module(module_of(page, out))
        for text in parsed.unlinked_code:
            name = text.removesuffix("()")
            if IDENTIFIER.fullmatch(name) and resolve(name, module) is not None:
                unresolved.append(f"{module.__name__}: `{text}`")
    assert not unresolved, sorted(set(unresolved))
