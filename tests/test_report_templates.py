"""The report's compiled templates are kept between processes, and a bad cache never stops a page."""

from __future__ import annotations

import os

import pytest
from jinja2 import Environment, PackageLoader, select_autoescape

from mlsmith.report._html import _TemplateCache, fmt

TEMPLATE = "fragment.html"  # it includes style.html: two templates


def _env(folder) -> Environment:
    env = Environment(loader=PackageLoader("mlsmith.report", "templates"), autoescape=select_autoescape(["html"]),
                      bytecode_cache=_TemplateCache(str(folder)))
    env.filters["fmt"] = fmt
    return env


def _render(folder) -> str:
    return _env(folder).get_template(TEMPLATE).render(body="churned")


def test_a_second_process_loads_the_compiled_template(tmp_path, monkeypatch):
    page = _render(tmp_path)
    assert len(os.listdir(tmp_path)) == 2 and "churned" in page
    monkeypatch.setattr(Environment, "compile", lambda *a, **k: pytest.fail("compiled again"))
    assert _render(tmp_path) == page


def test_a_damaged_cache_file_is_compiled_again(tmp_path):
    page = _render(tmp_path)
    first, second = tmp_path.iterdir()
    first.write_bytes(first.read_bytes()[:40])
    second.write_bytes(b"")
    assert _render(tmp_path) == page


def test_an_unwritable_cache_is_passed_over(tmp_path):
    missing = tmp_path / "gone"  # dumping into a folder that is not there raises OSError
    assert "churned" in _render(missing) and not missing.exists()
