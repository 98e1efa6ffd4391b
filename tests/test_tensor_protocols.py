"""A Tensor behaves like a number or an array where Python and numpy ask it to: conversions,
formatting, comparisons, the notebook view (no test of the fast suite called them in the
mutation run: docs/mutation.md)."""
import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("convert, expected", [(float, 2.5), (int, 2), (bool, True)])
def test_a_one_element_tensor_converts_to_a_python_number(convert, expected):
    for data in (2.5, [2.5], [[2.5]]):
        value = convert(mg.tensor(data))
        assert value == expected and type(value) is convert
    assert bool(mg.tensor([0.0])) is False


@pytest.mark.parametrize("convert, what", [(float, r"float\(\)"), (int, r"int\(\)"),
                                           (bool, r"bool\(\) \(the truth value\)")])
def test_converting_a_larger_tensor_is_an_error_naming_it(convert, what):
    with pytest.raises(TypeError, match=rf"^{what} needs a one-element tensor, got 'v' \(2,\)"):
        convert(mg.tensor([1.0, 2.0], name="v"))


def test_format_uses_the_number_of_a_one_element_tensor():
    assert f"{mg.tensor([3.14159]):.2f}" == "3.14"
    assert f"{mg.tensor(2.0)}" == "2.0"
    big = mg.tensor([1.0, 2.0])
    assert f"{big}" == str(big)
    with pytest.raises(TypeError, match=r"format spec '\.2f' needs a one-element tensor"):
        f"{big:.2f}"


@pytest.mark.parametrize("compare, expected", [
    (lambda a, b: a == b, [False, True, False]), (lambda a, b: a != b, [True, False, True]),
    (lambda a, b: a < b, [True, False, False]), (lambda a, b: a <= b, [True, True, False]),
    (lambda a, b: a > b, [False, False, True]), (lambda a, b: a >= b, [False, True, True])])
def test_comparisons_are_elementwise_constant_boolean_tensors(compare, expected):
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for b in (mg.tensor([2.0, 2.0, 2.0]), 2.0, np.full(3, 2.0)):
        out = compare(a, b)
        assert isinstance(out, mg.Tensor) and out.dtype == bool and not out.requires_grad
        assert out.data.tolist() == expected


def test_the_notebook_view_lists_the_summary_and_escapes_the_name():
    t = mg.tensor([1.0, 2.0], requires_grad=True, name="<b>W</b>")
    page = t._repr_html_()
    assert "<b>W</b>" not in page and "&lt;b&gt;W&lt;/b&gt;" in page
    for key, value in [("shape", "(2,)"), ("dtype", "float64"), ("requires_grad", "True")]:
        assert f"<tr><th>{key}</th><td>{value}</td></tr>" in page
    assert page.startswith("<table>") and page.endswith("<pre>[1. 2.]</pre>")


def test_numpy_sees_the_data_without_a_copy_unless_asked_for_one():
    t = mg.tensor([1.0, 2.0], name="t")
    assert np.shares_memory(np.asarray(t), t.data)
    assert np.shares_memory(np.asarray(t, dtype=np.float64, copy=False), t.data)
    copied = np.array(t, copy=True)
    assert copied.tolist() == [1.0, 2.0] and not np.shares_memory(copied, t.data)
    for as32 in (np.asarray(t, dtype=np.float32), np.array(t, dtype=np.float32, copy=True)):
        assert as32.dtype == np.float32 and as32.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"^np.asarray\(copy=False\) of 't' \(2,\) float64 as "
                                         r"float32 needs a copy$"):
        np.asarray(t, dtype=np.float32, copy=False)
