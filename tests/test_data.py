import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from mlsmith.data import check_columns, fingerprint, infer_schema, load_data, read_table
from mlsmith.exceptions import DataError
from mlsmith.problem import DataSpec, Problem

DATA = Path(__file__).parent / "data"


def test_csv_parquet_and_sqlite_load_the_same_rows(tmp_path, churn_small):
    churn_small.to_csv(tmp_path / "d.csv", index=False)
    churn_small.to_parquet(tmp_path / "d.parquet", index=False)
    with sqlite3.connect(tmp_path / "d.db") as conn:
        churn_small.to_sql("customers", conn, index=False)
    csv = load_data(DataSpec(path="d.csv"), tmp_path)
    parquet = load_data(DataSpec(path="d.parquet"), tmp_path)
    sql = load_data(DataSpec(url="sqlite:///d.db", query="SELECT * FROM customers WHERE churned = 1"), tmp_path)
    assert len(csv) == len(parquet) == len(churn_small)
    assert len(sql) == int(churn_small["churned"].sum())
    pd.testing.assert_series_equal(csv["monthly_charges"], parquet["monthly_charges"])


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(DataError, match="data file '.*missing.csv' does not exist"):
        load_data(DataSpec(path="missing.csv"), tmp_path)
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(DataError, match=r"unsupported type '.json'; use .csv, .parquet or .xlsx"):
        read_table(tmp_path / "d.json")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"could not read '.*d.xlsx' as an Excel workbook: File is not a zip"):
        read_table(tmp_path / "d.xlsx")
    with pytest.raises(DataError, match="SQLite database .* does not exist"):
        load_data(DataSpec(url="sqlite:///nope.db", query="SELECT 1"), tmp_path)
    with sqlite3.connect(tmp_path / "e.db") as conn:
        conn.execute("CREATE TABLE t (a INT)")
    with pytest.raises(DataError, match="the query in 'data.query' failed"):
        load_data(DataSpec(url="sqlite:///e.db", query="SELECT * FROM missing_table"), tmp_path)


def test_roles_inferred_on_churn(churn_small):
    schema = infer_schema(churn_small, "churned")
    roles = {c.name: c.role for c in schema.columns}
    assert roles["customer_id"] == "id"
    assert roles["signup_date"] == roles["last_login"] == "datetime"
    assert roles["contract"] == roles["payment_method"] == "categorical"
    assert roles["monthly_charges"] == roles["income"] == roles["tenure_months"] == "numeric"
    assert "customer_id" not in schema.features()
    assert schema["income"].missing_frac == pytest.approx(churn_small["income"].isna().mean())


def test_roles_for_text_bool_numbers_as_strings_and_overrides():
    n = 60
    rng = np.random.default_rng(0)
    words = ["late delivery", "great service", "refund requested", "app crashed again", "friendly staff"]
    df = pd.DataFrame({
        "comment": [" ".join(rng.choice(words, 4)) + f" order {i}" for i in range(n)],
        "flag": rng.choice(["True", "False"], n),
        "amount": [f"{v:,.2f}" for v in rng.uniform(10, 5000, n)],
        "zip": rng.choice([10001, 10002, 94105], n),
        "row_id": np.arange(n),
        "y": rng.integers(0, 2, n),
    })
    schema = infer_schema(df, "y", roles={"zip": "categorical"}, drop=["row_id"])
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {"comment": "text", "flag": "boolean", "amount": "numeric", "zip": "categorical"}
    assert schema.dropped == {"row_id": "listed in data.drop"}


def test_unknown_columns_in_spec_are_named():
    df = pd.DataFrame({"tenure": [1, 2], "y": [0, 1]})
    with pytest.raises(DataError, match="column 'tenur' named in the problem's data section is not in the data. Did you mean 'tenure'"):
        infer_schema(df, "y", drop=["tenur"])


def test_fingerprint_changes_with_content():
    df = load_breast_cancer(as_frame=True).frame
    a = fingerprint(df)
    changed = df.copy()
    changed.iloc[0, 0] += 1
    assert a == fingerprint(df.copy()) and a != fingerprint(changed)


def _run_cli(capsys, spec: Path) -> tuple[int, str]:
    """`mlsmith run SPEC`: the exit code and stderr."""
    from mlsmith.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["run", str(spec), "--runs-dir", str(spec.parent / "runs")])
    return stop.value.code, capsys.readouterr().err


@pytest.mark.parametrize("case,message", [
    ("header_only", r"^Error: data file '.*d.csv' has a header \(default, student, balance, income\) but no rows"),
    ("target_all_missing", r"^Error: target 'default' is missing in all 200 rows; check that the column holds"),
    ("single_class", r"^Error: target 'default' has a single class \('No'\) in 193 rows; a classifier needs"),
    ("time_column_text", r"^Error: data.time_column 'student' holds no dates \(values like 'No', 'Yes'\); name a "
                         r"column of dates, a year or an epoch"),
])
def test_unusable_data_is_one_error_line_and_exit_2(tmp_path, capsys, case, message):
    default = read_table(DATA / "Default.csv").head(200)
    spec = {"target": "default", "models": ["linear"], "data": {"path": "d.csv"}}
    if case == "header_only":
        default = default.head(0)
    elif case == "target_all_missing":  # an export that lost the labels: every one is NA
        default["default"] = np.nan
    elif case == "single_class":
        default = default[default["default"] == "No"].copy()
        default.iloc[:5, 0] = np.nan
    else:
        spec["data"]["time_column"] = "student"
    default.to_csv(tmp_path / "d.csv", index=False, na_rep="NA")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(spec))
    code, err = _run_cli(capsys, tmp_path / "p.yaml")
    assert code == 2 and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_time_column_may_be_dates_or_a_number():
    penguins = read_table(DATA / "penguins.csv")
    nyse = read_table(DATA / "nyse.csv")
    for frame, target, column in ((penguins, "sex", "year"), (nyse, "DJ_return", "date")):
        check_columns(frame, Problem(target=target, data={"path": "x.csv", "time_column": column}))
    with pytest.raises(DataError, match=r"data.time_column 'day_of_week' holds no dates \(values like 'mon', "):
        check_columns(nyse, Problem(target="DJ_return", data={"path": "x.csv", "time_column": "day_of_week"}))
