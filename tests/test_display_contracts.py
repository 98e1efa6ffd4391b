"""What repr and the notebook view show: values to 4 decimals, short arrays whole and
long ones elided (over 8 elements in repr, 64 in HTML), and whether a gradient is held."""
import re

import numpy as np

import minigrad as mg


def _values(text):
    return re.search(r"\[[^\]]*\]", text).group(0)


def test_repr_shows_four_decimals_and_elides_past_eight_elements():
    assert _values(repr(mg.tensor([1 / 3, 2 / 3]))) == "[0.3333 0.6667]"
    assert "..." not in repr(mg.tensor(np.arange(8.0)))
    assert "..." in repr(mg.tensor(np.arange(9.0)))


def test_the_html_view_shows_four_decimals_and_elides_past_64_elements():
    shown = mg.tensor([1 / 3, 2 / 3])._repr_html_()
    assert "<pre>[0.3333 0.6667]</pre>" in shown
    assert "..." not in mg.tensor(np.arange(64.0))._repr_html_()
    assert "..." in mg.tensor(np.arange(65.0))._repr_html_()


def test_repr_and_html_say_whether_a_gradient_is_held():
    w = mg.tensor([1.0, 2.0], requires_grad=True, name="w")
    assert repr(w).endswith("requires_grad=True, grad=None)")
    assert "<tr><th>grad</th><td>None</td></tr>" in w._repr_html_()
    (w * w).sum().backward()
    assert repr(w).endswith("requires_grad=True, grad=held)")
    assert "<tr><th>grad</th><td>held</td></tr>" in w._repr_html_()
    assert "grad" not in repr(mg.tensor(1.0))


def test_the_html_view_is_one_table_row_per_field():
    shown = mg.tensor([1.0], name="w")._repr_html_()
    table = shown[:shown.index("<pre>")]
    assert re.fullmatch(r"<table>(<tr><th>\w+</th><td>[^<]*</td></tr>)+</table>", table)
    assert table.count("<tr>") == 3  # shape, dtype, name
