"""Data in any form users hold it: pandas, Polars and Arrow tables, DuckDB files, Parquet folders and globs.

Every table here is a real one (tests/data); the frames, databases and Parquet sets are made from it
in the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import yaml

import mlsmith
from mlsmith._reading import NA_VALUES, as_pandas
from mlsmith.data import fingerprint, load_data, read_table
from mlsmith.exceptions import DataError
from mlsmith.monitor import monitor
from mlsmith.problem import DataSpec
from mlsmith.runs import list_runs

from conftest import cli

DATA = Path(__file__).parent / "data"
PENGUINS = DATA / "penguins.csv"
#: A cheap run: one family, three folds, two tuning trials, no feature search.
SPEC = {"target": "sex", "models": ["linear"], "split": {"cv_folds": 3}, "tuning": {"n_trials": 2},
        "features": "none"}


def polars_csv(path: Path) -> pl.DataFrame:
    """The CSV as Polars reads it, told the same missing-value markers as mlsmith's reader."""
    return pl.read_csv(path, null_values=list(NA_VALUES), infer_schema_length=None)


def _write(folder: Path, name: str, spec: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same penguins rows run from the CSV file and from a Polars frame (a spec without a source)."""
    folder = tmp_path_factory.mktemp("runs")
    from_csv = mlsmith.run(_write(folder, "csv.yaml", {**SPEC, "data": {"path": str(PENGUINS)}}),
                           runs_dir=folder / "runs", n_jobs=1)
    from_polars = mlsmith.run(_write(folder, "frame.yaml", SPEC), runs_dir=folder / "runs", n_jobs=1,
                              data=polars_csv(PENGUINS))
    return folder, from_csv, from_polars


# --- one conversion, typed as the CSV reader types ------------------------------------------------

# cars93 is left out: its header's first name is empty, which pandas calls 'Unnamed: 0' and Polars ''.
@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.csv") if p.name != "cars93.csv"))
def test_a_polars_frame_has_the_csv_readers_types_and_fingerprint(name):
    polars, from_csv = polars_csv(DATA / name), read_table(DATA / name)
    from_polars = as_pandas(polars)
    assert dict(from_polars.dtypes.astype(str)) == dict(from_csv.dtypes.astype(str))
    assert fingerprint(polars) == fingerprint(from_polars) == fingerprint(from_csv)
    pd.testing.assert_frame_equal(from_polars, from_csv)


def test_arrow_types_become_the_csv_readers_and_zones_become_utc():
    table = pa.table({
        "small": pa.array([1, None, 3], pa.int8()),
        "count": pa.array([1, 2, 3], pa.uint16()),
        "ratio": pa.array([0.5, None, 2.0], pa.float32()),
        "price": pa.array([1, 2, 3], pa.decimal128(5, 2)),
        "city": pa.array(["Lyon", None, "Gent"]).dictionary_encode(),
        "empty": pa.nulls(3),
        "at": pa.array([pd.Timestamp("2024-01-01 12:00", tz="Europe/Paris"), None,
                        pd.Timestamp("2024-06-01 12:00", tz="Europe/Paris")], pa.timestamp("us", tz="Europe/Paris")),
    })
    frame = as_pandas(table)
    assert [str(t) for t in frame.dtypes] == ["float64", "int64", "float64", "float64", "str", "float64",
                                            "datetime64[us]"]
    assert frame["at"].tolist()[::2] == [pd.Timestamp("2024-01-01 11:00"), pd.Timestamp("2024-06-01 10:00")]
    assert frame["city"].tolist()[::2] == ["Lyon", "Gent"] and pd.isna(frame["city"][1])
    # Polars' categoricals and enums (dictionaries of string views) are their text, as in the CSV
    texts = ["species", "island", "sex"]
    typed = polars_csv(PENGUINS).with_columns(pl.col(texts[:2]).cast(pl.Categorical),
                                               pl.col("sex").cast(pl.Enum(["female", "male"])))
    pd.testing.assert_frame_equal(as_pandas(typed), read_table(PENGUINS))
    # a RecordBatch, a lazy Polars frame and a DuckDB relation are tables too
    batch = table.to_batches()[0]
    assert as_pandas(batch).equals(frame)
    lazy = polars_csv(PENGUINS).lazy().filter(pl.col("year") == 2008)
    assert len(as_pandas(lazy)) == int((read_table(PENGUINS)["year"] == 2008).sum())
    import duckdb

    relation = duckdb.sql(f"SELECT species, count(*) AS n FROM read_csv('{PENGUINS}') GROUP BY ALL ORDER BY species")
    assert as_pandas(relation).to_dict("list") == {"species": ["Adelie", "Chinstrap", "Gentoo"], "n": [152, 68, 124]}


@pytest.mark.parametrize("value, kind", [([[1, 2]], "builtins.list"), ({"a": [1]}, "builtins.dict"),
                                         (np.zeros((2, 2)), "numpy.ndarray")])
def test_a_table_of_another_type_is_one_error_naming_it(value, kind):
    with pytest.raises(DataError, match=rf"^data must be a table \(a pandas or Polars DataFrame, a pyarrow Table\) "
                                        rf"or a file path; got {kind}\.$"):
        as_pandas(value)
    with pytest.raises(DataError, match=rf"got {kind}"):
        mlsmith.assess_quality(value)


def test_a_nested_column_is_refused_by_name():
    with pytest.raises(DataError, match=r"column 'tags' holds nested values \(list<item: string>\); .*flatten"):
        as_pandas(pa.table({"tags": [["a", "b"], ["c"]]}))


# --- mlsmith.run(problem, data=frame) ------------------------------------------------------------

def test_schema_inference_takes_a_polars_frame():
    target = "sex"
    assert (mlsmith.infer_schema(polars_csv(PENGUINS), target).to_dict()
            == mlsmith.infer_schema(read_table(PENGUINS), target).to_dict())


def test_a_polars_run_gives_the_csv_runs_results(runs):
    folder, from_csv, from_polars = runs
    assert from_polars.schema.to_dict() == from_csv.schema.to_dict()
    assert from_polars.leaderboard.to_dict()["rows"][0]["cv_mean"] == from_csv.leaderboard.to_dict()["rows"][0]["cv_mean"]
    assert from_polars.evaluation.test_metrics == from_csv.evaluation.test_metrics
    # the fingerprint the runs index keeps is the same for the frame and the file holding its rows
    assert from_polars.bundle["data_fingerprint"] == from_csv.bundle["data_fingerprint"]
    index = {r["path"]: r["data_fingerprint"] for r in list_runs(folder / "runs")}
    assert index[str(from_polars.run_dir)] == index[str(from_csv.run_dir)] == from_csv.bundle["data_fingerprint"]
    # where the data came from is recorded
    spec = yaml.safe_load((from_polars.run_dir / "problem.yaml").read_text())
    full = fingerprint(read_table(PENGUINS))
    assert spec["data"]["frame"] == f"<polars.DataFrame 344 x 8, fingerprint {full[:16]}>"
    assert spec["data"]["path"] is None


def test_a_spec_without_a_source_needs_the_table(tmp_path, capsys, runs):
    spec = _write(tmp_path, "problem.yaml", SPEC)
    with pytest.raises(DataError, match=r"^the problem gives no data source; add one to its data section "
                                        r"\(e.g. 'data: \{path: churn.csv\}'\), or pass the table: "
                                        r"mlsmith.run\(problem, data=df\)\.$"):
        mlsmith.run(spec, runs_dir=tmp_path / "runs")
    code, _, err = cli(capsys, "run", spec, "--runs-dir", tmp_path / "runs")
    assert code == 2 and err.startswith("Error: the problem gives no data source") and len(err.strip().splitlines()) == 1
    # a run folder's problem.yaml records a frame: run again, it asks for the table
    recorded = runs[2].run_dir / "problem.yaml"
    with pytest.raises(DataError, match=r"was a table held in memory \(<polars.DataFrame 344 x 8, fingerprint "):
        mlsmith.run(recorded, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_frame_replaces_the_specs_source_and_the_run_says_so(tmp_path):
    penguins = read_table(PENGUINS)
    spec = _write(tmp_path, "problem.yaml", {**SPEC, "data": {"path": "gone.csv"}})
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1, data=pa.Table.from_pandas(penguins))
    assert "the table passed as data= was used; the spec's data source 'gone.csv' was not read" in r.notes
    assert r.problem.data.frame.startswith("<pyarrow.Table 344 x 8, fingerprint ")
    assert r.split.n_train + r.split.n_test == int(penguins["sex"].notna().sum())


# --- quality, EDA, predict and monitor take frames -----------------------------------------------

def test_quality_and_eda_of_a_polars_frame_match_the_csv(runs):
    frame = polars_csv(PENGUINS)
    # the same report as for the pandas frame; and for the file, the same statistics (dtypes and memory
    # are the engine's: a file is profiled out of core)
    quality = mlsmith.assess_quality(frame, "sex").to_dict()
    assert quality == mlsmith.assess_quality(read_table(PENGUINS), "sex").to_dict()
    of_file = mlsmith.assess_quality(PENGUINS, "sex").to_dict()
    for key in ("n_rows", "missing", "n_duplicates", "numeric_summary", "target", "findings"):
        assert quality[key] == of_file[key], key
    a, b = mlsmith.explore(frame, "sex", seed=0).to_dict(), mlsmith.explore(PENGUINS, "sex", seed=0).to_dict()
    assert a["associations"] == b["associations"] and a["task"] == b["task"] == "binary_classification"


def test_a_bundle_scores_a_polars_frame_as_the_pandas_one(runs, tmp_path):
    bundle = mlsmith.ModelBundle.load(runs[2].run_dir / "model")
    frame, polars = read_table(PENGUINS), polars_csv(PENGUINS)
    expected = bundle.predict(frame)
    pd.testing.assert_frame_equal(bundle.predict(polars), expected)
    pd.testing.assert_frame_equal(bundle.predict(pa.Table.from_pandas(frame)), expected)
    # batch scoring applies the serving rules (a row missing what training never missed is refused),
    # to the frame as to the file
    out = mlsmith.predict_file(bundle, polars, tmp_path / "scored.csv")
    of_file = mlsmith.predict_file(bundle, PENGUINS, tmp_path / "of_file.csv")
    assert (out.n_rows, out.n_scored, out.rules) == (of_file.n_rows, of_file.n_scored, of_file.rules)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(of_file))


def test_monitor_takes_a_polars_frame(runs):
    bundle = runs[2].run_dir / "model"
    a, b = monitor(bundle, polars_csv(PENGUINS)).to_dict(), monitor(bundle, PENGUINS).to_dict()
    assert a["source"] == {"kind": "file", "path": "<polars.DataFrame>"} and a["n_rows"] == b["n_rows"] == 344
    assert [r["statistic"] for r in a["features"]] == [r["statistic"] for r in b["features"]]


# --- DuckDB files ------------------------------------------------------------------------------------

@pytest.fixture()
def penguins_db(tmp_path) -> Path:
    import duckdb

    db = tmp_path / "penguins.db"
    with duckdb.connect(str(db)) as con:
        con.register("frame", read_table(PENGUINS))
        con.execute("CREATE TABLE penguins AS SELECT * FROM frame")
    return db


def _count(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM penguins").fetchone()[0]


def test_a_duckdb_file_is_a_source_by_table_or_query(penguins_db, runs, tmp_path):
    expected = read_table(PENGUINS)
    pd.testing.assert_frame_equal(load_data(DataSpec(url=f"duckdb:///{penguins_db}", table="penguins")), expected)
    picked = load_data(DataSpec(url="duckdb:///penguins.db", query="SELECT species, year FROM penguins WHERE year = 2009"),
                       base_dir=tmp_path)
    assert picked.shape == (int((expected["year"] == 2009).sum()), 2)
    import sqlite3  # 'table:' is not DuckDB's alone

    with sqlite3.connect(tmp_path / "penguins.sqlite") as conn:
        expected.to_sql("penguins", conn, index=False)
    assert load_data(DataSpec(url=f"sqlite:///{tmp_path / 'penguins.sqlite'}", table="penguins")).shape == (344, 8)
    spec = _write(tmp_path, "problem.yaml", {**SPEC, "data": {"url": "duckdb:///penguins.db", "table": "penguins"}})
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    assert r.evaluation.test_metrics == runs[1].evaluation.test_metrics
    assert r.bundle["data_fingerprint"] == runs[1].bundle["data_fingerprint"]


@pytest.mark.parametrize("query, message", [
    ("DROP TABLE penguins", r"must be a SELECT \(or WITH ... SELECT\) statement; got 'DROP TABLE penguins'"),
    ("SELECT 1; DELETE FROM penguins", r"must be one SELECT statement; it holds 2 statements"),
    ("WITH x AS (SELECT 1) DELETE FROM penguins", r"must only read, but it holds 'DELETE'"),
    ("SELECT * FROM penguins; COPY penguins TO 'out.csv'", r"must be one SELECT statement; it holds 2"),
])
def test_a_duckdb_query_that_writes_leaves_the_table_there(penguins_db, query, message):
    with pytest.raises(DataError, match=r"'data.query' " + message):
        load_data(DataSpec(url=f"duckdb:///{penguins_db}", query=query))
    assert _count(penguins_db) == 344


def test_the_duckdb_connection_is_read_only_and_reaches_no_other_file(penguins_db):
    from mlsmith.data import _read_duckdb

    # the second layer, should a writing statement get past the check: the connection refuses it
    with pytest.raises(DataError, match=r"failed on penguins.db: .*read-only"):
        _read_duckdb(penguins_db, "DELETE FROM penguins", Path("."))
    assert _count(penguins_db) == 344
    with pytest.raises(DataError, match=r"failed on penguins.db: .*file system operations are disabled"):
        load_data(DataSpec(url=f"duckdb:///{penguins_db}", query=f"SELECT * FROM read_csv('{PENGUINS}')"))
    with pytest.raises(DataError, match=r"^DuckDB database '.*nope.db' does not exist; check 'data.url'"):
        load_data(DataSpec(url="duckdb:///nope.db", table="penguins"))


# --- Parquet folders and globs -----------------------------------------------------------------------

@pytest.fixture()
def parquet_set(tmp_path) -> Path:
    """The penguins written by pyarrow as a hive-partitioned folder: parts/year=2007/part-0.parquet, ..."""
    table = pa.Table.from_pandas(read_table(PENGUINS), preserve_index=False)
    ds.write_dataset(table, tmp_path / "parts", format="parquet", partitioning=["year"], partitioning_flavor="hive",
                     basename_template="part-{i}.parquet")
    return tmp_path / "parts"


def _by_rows(frame: pd.DataFrame) -> pd.DataFrame:
    columns = sorted(frame.columns)
    return frame[columns].sort_values(columns, na_position="first").reset_index(drop=True)


@pytest.mark.parametrize("pattern", ["", "year=*/part-*.parquet", "**/*.parquet"])
def test_a_parquet_folder_or_glob_is_one_table(parquet_set, pattern):
    read = read_table(parquet_set / pattern if pattern else parquet_set)
    expected = read_table(PENGUINS)
    assert len(read) == 344 and sorted(read.columns) == sorted(expected.columns)
    pd.testing.assert_frame_equal(_by_rows(read), _by_rows(expected))


def test_a_parquet_glob_runs_profiles_and_scores(parquet_set, runs, tmp_path, capsys):
    pattern = "parts/year=*/part-*.parquet"
    spec = _write(tmp_path, "problem.yaml", {**SPEC, "data": {"path": pattern}})
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    assert r.split.n_train + r.split.n_test == runs[1].split.n_train + runs[1].split.n_test
    code, _, err = cli(capsys, "quality", parquet_set, "--target", "sex", "--json", tmp_path / "q.json")
    assert code == 0, err
    quality = pd.read_json(tmp_path / "q.json", typ="series")
    assert quality["n_rows"] == 344 and quality["n_columns"] == 8
    code, _, err = cli(capsys, "predict", runs[2].run_dir / "model", tmp_path / pattern, "-o", tmp_path / "scored.parquet")
    assert code == 0, err
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    of_file = pd.read_csv(mlsmith.predict_file(runs[2].run_dir / "model", read_table(tmp_path / pattern),
                                               tmp_path / "of_frame.csv"))
    assert len(scored) == 344
    np.testing.assert_allclose(scored["probability"], of_file["probability"])


def test_a_parquet_file_polars_wrote_reads_as_its_csv(tmp_path):
    typed = polars_csv(PENGUINS).with_columns(pl.col("species", "island").cast(pl.Categorical),
                                              pl.col("year").cast(pl.Int16))
    typed.write_parquet(tmp_path / "penguins.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "penguins.parquet"), read_table(PENGUINS))


def test_a_file_named_like_a_pattern_is_that_file(tmp_path):
    path = tmp_path / "penguins[2007].csv"
    path.write_bytes(PENGUINS.read_bytes())
    pd.testing.assert_frame_equal(read_table(path), read_table(PENGUINS))


def test_a_glob_matching_nothing_is_one_error_with_the_pattern(tmp_path, capsys, runs):
    pattern = tmp_path / "data" / "*.parquet"
    code, _, err = cli(capsys, "quality", pattern, "--target", "sex")
    assert code == 2 and err.strip() == (f"Error: '{pattern}' matches no Parquet file; check the folder or the pattern "
                                         "(e.g. 'data/*.parquet' or 'data/year=*/part-*.parquet').")
    code, _, err = cli(capsys, "predict", runs[2].run_dir / "model", pattern, "-o", tmp_path / "o.csv")
    assert code == 2 and f"'{pattern}' matches no Parquet file" in err
    with pytest.raises(DataError, match=r"matches no Parquet file"):
        monitor(runs[2].run_dir / "model", pattern)
