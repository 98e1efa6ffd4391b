"""No user string ever becomes markup: hostile tensor names, op names, op parameters, tags
and graph names go through every drawing function and the real renderer, and the SVG that
`dot` writes holds exactly the elements and attributes of a harmless drawing, with the names
shown as text."""
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
from minigrad.draw import draw, escape, render
from minigrad.tensor import apply
from rnn import RNN
from rnn.draw import draw_folded, draw_unrolled

HOSTILE = [
    'say "hi" \\" ',
    "trailing backslash\\",
    "\\N \\G \\L \\l \\n",                         # dot's own label escapes, as plain text
    "<b>bold</b> & <i>",
    "<<font color='red' point-size='72'>HACKED</font>>",
    "a &amp; b &lt;c&gt; &#60;",
    "nul\x00byte \x1b[31m\x07",
    "line one\nline two\r\nthree",
    "</script><script>alert(1)</script>",
    "]; evil [shape=box label=\"x\"]; n0 -> n1 [",
    "} digraph x { y",
    "lone surrogate \ud800 and \uffff",
]


def _visible(name: str) -> str:
    """What a label must show for ``name``: control, surrogate and non-characters as \\xNN /
    \\uNNNN text (written here without the code under test)."""
    out = []
    for ch in name:
        code = ord(ch)
        bad = (code < 0x20 and ch != "\n") or 0x7f <= code < 0xa0 or 0xd800 <= code < 0xe000 \
            or code in (0xfffe, 0xffff)
        out.append((f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") if bad else ch)
    return "".join(out)


def _expression(name: str):
    """A small graph where the name is on a leaf, an intermediate, a user op (name and
    parameter, key and value) and a tag."""
    x = mg.tensor([1.0, -2.0], requires_grad=True, name=name)
    y = apply(name, lambda a, **p: (a * 2, lambda g, out, a: (2 * g,)), [mg.tanh(x)], {name: name})
    y = y.named(name)
    y.tags["x"] = name                                   # shown as a token gather's tokens
    L = (y * y).sum().named(name)
    L.backward()
    return L


def _rnn(name: str):
    graph = RNN(3, 2, 3, seed=0).unroll(np.array([0, 2, 1, 1] * 4), np.array([2, 1, 0, 0] * 4))
    for t in graph.h[1:] + graph.o[1:] + graph.L[1:]:
        t.name = name
    graph.loss.name = name
    graph.loss.backward()
    return graph


DRAWINGS = {
    "draw": lambda n: draw(_expression(n), name=n),
    "draw values grads": lambda n: draw(_expression(n), show_values=True, show_grads=True),
    "draw heat": lambda n: draw(_expression(n), heat=True),
    "draw collapsed": lambda n: draw(_expression(n), collapse_ops=True, hide_constants=True),
    "unrolled": lambda n: draw_unrolled(_rnn(n)),
    "unrolled heat per step": lambda n: draw_unrolled(_rnn(n), heat=True, params="per_step",
                                                      collapse_above=None),
    "unrolled collapsed": lambda n: draw_unrolled(_rnn(n), collapse_above=6, keep=2,
                                                  show_grads=True),
    "folded": lambda n: draw_folded(_rnn(n)),
}
SVG = "{http://www.w3.org/2000/svg}"


def _structure(svg_path):
    """Element tags, attribute names, font sizes and the text lines of an SVG file."""
    root = ET.parse(svg_path).getroot()                  # fails on NUL or broken markup
    tags, attrs, sizes, texts = set(), set(), set(), []
    for e in root.iter():
        tags.add(e.tag)
        attrs |= set(e.attrib)
        if "font-size" in e.attrib:
            sizes.add(e.attrib["font-size"])
        if e.tag == f"{SVG}text":
            texts.append("".join(e.itertext()))
    return tags, attrs, sizes, texts


@pytest.mark.parametrize("drawing", DRAWINGS)
def test_hostile_names_render_as_text_and_inject_nothing(drawing, tmp_path):
    harmless = _structure(render(DRAWINGS[drawing]("name"), tmp_path / "harmless.svg"))
    for k, name in enumerate(HOSTILE):
        dot = DRAWINGS[drawing](name)
        assert "\x00" not in dot.source and not re.search(r"[\ud800-\udfff]", dot.source)
        tags, attrs, sizes, texts = _structure(render(dot, tmp_path / f"hostile{k}.svg"))
        assert tags <= harmless[0] and attrs <= harmless[1], (name, tags - harmless[0])
        assert sizes <= harmless[2], name                  # no 72-point text
        joined = "\n".join(texts)
        assert "HACKED" not in joined or "<font" in joined  # only ever as literal text
        for line in re.split(r"\r\n|\n|\r", _visible(name)):
            if line.strip() and drawing != "folded":     # the folded view names roles only
                assert any(line.strip() in t for t in texts), (drawing, name, line)


@pytest.mark.parametrize("name", HOSTILE)
def test_escape_leaves_no_markup_and_no_control_characters(name):
    for html in (False, True):
        text = escape(name, html=html)
        assert not re.search(r"[\x00-\x09\x0b-\x1f\ud800-\udfff]", text)
        assert "\n" not in text
    html = escape(name, html=True)
    assert "<" not in html.replace("<br/>", "") and ">" not in html.replace("<br/>", "")
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#39;)", html)
    quoted = escape(name)
    assert not re.search(r'(?<!\\)(\\\\)*"', quoted)      # every quote escaped
    assert not re.search(r'(?<!\\)(\\\\)*\\$', quoted)   # no dangling backslash
