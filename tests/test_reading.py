"""One CSV reader configuration: `run` (pandas) and `quality` / `eda` (DuckDB) read a file alike."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlsmith._reading import CsvFormat, sniff_csv
from mlsmith._table import open_table
from mlsmith.cli import main
from mlsmith.data import check_columns, infer_schema, load_data, read_table
from mlsmith.exceptions import DataError
from mlsmith.problem import Problem
from mlsmith.quality import assess_quality

DATA = Path(__file__).parent / "data"
PENGUINS = DATA / "penguins.csv"


def _same_report(path: Path, target: str) -> tuple:
    """The quality report of a file read by DuckDB, and of the same file read as `run` reads it."""
    return assess_quality(path, target), assess_quality(read_table(path), target)


def _findings(report) -> list[tuple]:
    return sorted((f.check, f.column, f.message) for f in report.findings)


def test_r_export_reads_alike_on_every_path():
    # R writes a missing value as NA: quality used to see the text 'NA', a category and numbers as text.
    from_file, as_run = _same_report(PENGUINS, "sex")
    assert from_file.missing["sex"]["count"] == as_run.missing["sex"]["count"] == 11
    assert from_file.missing == as_run.missing
    assert set(from_file.missing) == {"bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"}
    assert _findings(from_file) == _findings(as_run)
    assert not {"numbers_as_strings", "disguised_missing"} & {f.check for f in from_file.findings}
    assert from_file.target["distribution"] == pytest.approx({"male": 168 / 333, "female": 165 / 333})
    for column, summary in as_run.numeric_summary.items():
        assert from_file.numeric_summary[column] == pytest.approx(summary)
    with open_table(PENGUINS) as file, open_table(read_table(PENGUINS)) as frame:
        assert file.kinds == frame.kinds
        assert file.kinds["bill_length_mm"] == file.kinds["body_mass_g"] == "numeric"
    roles = {c.name: c.role for c in infer_schema(read_table(PENGUINS), "sex").columns}
    assert roles["bill_length_mm"] == "numeric" and roles["island"] == "categorical"


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.csv")))
def test_every_shipped_table_has_one_set_of_column_types(name):
    path = DATA / name
    frame = read_table(path)
    with open_table(path) as file, open_table(frame) as table:
        assert list(file.types) == list(table.types)  # the same names, also for cars93's unnamed column
        assert file.types == table.types
    from_file, as_run = _same_report(path, None)
    assert from_file.missing == as_run.missing and _findings(from_file) == _findings(as_run)


def _european(tmp_path: Path, delimiter: str, decimal: str) -> tuple[Path, pd.DataFrame]:
    hitters = read_table(DATA / "hitters.csv").head(120)
    hitters["ratio"] = (hitters["Hits"] / hitters["AtBat"]).round(4)
    path = tmp_path / "export.csv"
    hitters.to_csv(path, sep=delimiter, decimal=decimal, index=False, na_rep="NA")
    return path, hitters


@pytest.mark.parametrize("delimiter,decimal", [(";", ","), ("\t", "."), ("|", "."), (";", ".")])
def test_delimiter_and_decimal_comma_are_sniffed_once_for_both_paths(tmp_path, delimiter, decimal):
    path, expected = _european(tmp_path, delimiter, decimal)
    assert sniff_csv(path) == CsvFormat(delimiter, decimal)
    frame = read_table(path)
    assert list(frame.columns) == list(expected.columns)
    np.testing.assert_allclose(frame["ratio"], expected["ratio"])
    assert frame["Salary"].isna().sum() == expected["Salary"].isna().sum() > 0
    from_file = assess_quality(path, "League")
    assert from_file.missing == assess_quality(frame, "League").missing
    assert from_file.numeric_summary["ratio"]["mean"] == pytest.approx(expected["ratio"].mean())


def test_semicolon_file_is_read_as_columns_not_as_one_named_a_b_c(tmp_path, capsys):
    path, expected = _european(tmp_path, ";", ",")
    problem = Problem(target="League", data={"path": path.name}, base_dir=str(tmp_path))
    frame = load_data(problem.data, tmp_path)
    check_columns(frame, problem)  # used to fail: "target 'League' is not a column ... Columns: AtBat;Hits;..."
    assert frame.shape == expected.shape and frame["ratio"].dtype == float
    main(["quality", str(path), "--target", "League"])
    assert "120 rows × 21 columns" in capsys.readouterr().out


def test_excel_reads_like_the_csv(tmp_path, capsys):
    frame = read_table(PENGUINS)
    frame.to_excel(tmp_path / "penguins.xlsx", index=False)
    sheet = read_table(tmp_path / "penguins.xlsx")
    pd.testing.assert_frame_equal(sheet, frame, check_dtype=False)
    assert assess_quality(tmp_path / "penguins.xlsx", "sex").missing == assess_quality(PENGUINS, "sex").missing
    main(["quality", str(tmp_path / "penguins.xlsx"), "--target", "sex"])
    assert "344 rows × 8 columns" in capsys.readouterr().out


def test_excel_without_openpyxl_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    read_table(PENGUINS).head(5).to_excel(tmp_path / "p.xlsx", index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now raises ImportError
    with pytest.raises(DataError, match=r"needs openpyxl, which is not installed; install it with pip install "
                                        r"'mlsmith\[excel\]'"):
        read_table(tmp_path / "p.xlsx")
    with pytest.raises(SystemExit) as stop:
        main(["quality", str(tmp_path / "p.xlsx")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith("Error: reading 'p.xlsx' needs openpyxl")


def test_header_without_rows_is_one_error_on_both_paths(tmp_path):
    (tmp_path / "empty.csv").write_text("species,island,sex\n")
    with pytest.raises(DataError, match=r"'.*empty.csv' has a header \(species, island, sex\) but no rows"):
        read_table(tmp_path / "empty.csv")
    with pytest.raises(DataError, match=r"'.*empty.csv' has a header \(species, island, sex\) but no rows"):
        assess_quality(tmp_path / "empty.csv")
    (tmp_path / "nothing.csv").write_text("")
    with pytest.raises(DataError, match="is empty: it has no header and no rows"):
        read_table(tmp_path / "nothing.csv")


def test_monitor_reads_a_european_export_like_the_comma_file(tmp_path):
    from mlsmith.datasets import make_churn
    from mlsmith.monitor import monitor

    from _bundles import make_bundle

    churn = make_churn(n_rows=1600, seed=11)
    bundle = make_bundle(tmp_path / "model", churn.iloc[:800])
    current = churn.iloc[800:].reset_index(drop=True)
    current.to_csv(tmp_path / "plain.csv", index=False)
    current.to_csv(tmp_path / "eu.csv", index=False, sep=";", decimal=",")
    plain, eu = monitor(bundle, tmp_path / "plain.csv"), monitor(bundle, tmp_path / "eu.csv")
    assert [r["n_current"] for r in eu.features] == [r["n_current"] for r in plain.features]
    assert [r.get("psi") for r in eu.features] == pytest.approx([r.get("psi") for r in plain.features])
    assert eu.drifted == plain.drifted


def test_a_level_spelled_none_is_a_level_on_every_path():
    # MASS Cars93: 34 cars have AirBags 'None', a real level, not a missing value
    frame = read_table(DATA / "cars93.csv")
    assert frame["AirBags"].isna().sum() == 0
    assert (frame["AirBags"] == "None").sum() == 34
    with open_table(DATA / "cars93.csv") as table:
        report = assess_quality(table)
    assert report.missing.get("AirBags", 0) == 0
