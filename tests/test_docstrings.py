"""The public API's docstrings are numpydoc: every name in ``mlsmith.__all__`` documents the
parameters of its signature, what it returns, and has an Examples section (which the doctests run).

The codes are numpydoc's (``numpydoc.validate.ERROR_MSGS``); those not checked here (See Also, an
extended summary) are style the docstrings do not all follow yet.
"""

from __future__ import annotations

import numpydoc.validate as numpydoc_validate
import pytest

import mlsmith

#: GL08 a docstring; SS01 a summary; PR01 every parameter documented; PR02 none that is not one;
#: PR03 in the signature's order; PR04 each with a type; PR07 each with a description; RT01 a Returns
#: section where it returns; RT03 the value described; EX01 an Examples section.
CHECKED = ("GL08", "SS01", "PR01", "PR02", "PR03", "PR04", "PR07", "RT01", "RT03", "EX01")


def _errors(name: str) -> list[str]:
    obj = getattr(mlsmith, name)
    found = numpydoc_validate.validate(f"{obj.__module__}.{obj.__qualname__}")
    return [f"{code}: {message}" for code, message in found["errors"] if code in CHECKED]


@pytest.mark.parametrize("name", mlsmith.__all__)
def test_public_docstring_is_numpydoc(name):
    assert _errors(name) == []


def test_the_check_finds_an_undocumented_parameter(monkeypatch):
    """The validation reads the docstrings: one that loses a parameter fails."""
    from mlsmith import draft

    doc = draft.draft_problem.__doc__
    monkeypatch.setattr(draft.draft_problem, "__doc__", doc.replace("    output : str or pathlib.Path", "    out : str"))
    assert [e.split(":")[0] for e in _errors("draft_problem")] == ["PR01", "PR02"]


def test_the_check_finds_a_parameter_without_a_type_or_out_of_order(monkeypatch):
    """PR04 reads each parameter's type and PR03 their order against the signature's."""
    from mlsmith import draft

    doc = draft.draft_problem.__doc__
    untyped = doc.replace("    target : str\n", "    target\n")
    monkeypatch.setattr(draft.draft_problem, "__doc__", untyped)
    assert _errors("draft_problem") == ['PR04: Parameter "target" has no type']
    data = doc[doc.index("    data : "):doc.index("    target : ")]
    swapped = doc.replace(data, "").replace("    output : ", data + "    output : ")
    monkeypatch.setattr(draft.draft_problem, "__doc__", swapped)
    assert [e.split(":")[0] for e in _errors("draft_problem")] == ["PR03"]
