import gc
import tracemalloc

import pandas as pd
import pytest

from mlsmith.datasets import make_churn
from mlsmith.deploy import ModelBundle, predict_file
from mlsmith.exceptions import DataError

from deploy_fixtures import churn_bundle, churn_frame  # noqa: F401  (fixtures)

CHUNK = 400


@pytest.fixture(scope="module")
def bundle(churn_bundle):
    return ModelBundle.load(churn_bundle)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A file ten times the chunk, and one of a single chunk."""
    folder = tmp_path_factory.mktemp("batch")
    frame = make_churn(n_rows=10 * CHUNK, seed=11).drop(columns=["churned"]).iloc[:10 * CHUNK]
    frame.to_csv(folder / "big.csv", index=False)
    frame.to_parquet(folder / "big.parquet", index=False)
    frame.iloc[:CHUNK].to_csv(folder / "one.csv", index=False)
    return folder, frame


@pytest.mark.parametrize("source, target", [("big.csv", "out.parquet"), ("big.parquet", "out.csv")])
def test_chunked_scores_equal_scoring_the_whole_file(bundle, big, tmp_path, source, target):
    folder, frame = big
    seen = []
    out = predict_file(bundle, folder / source, tmp_path / target, chunk_rows=CHUNK,
                       progress=lambda done, total: seen.append((done, total)))
    got = pd.read_parquet(out) if target.endswith(".parquet") else pd.read_csv(out)
    want = bundle.predict(pd.read_csv(folder / "big.csv"))
    assert list(got.columns) == ["customer_id", "prediction", "probability", "reason"]
    assert got["reason"].isna().all() and (out.n_rows, out.n_scored, out.rules) == (10 * CHUNK, 10 * CHUNK, {})
    assert got["customer_id"].tolist() == frame["customer_id"].tolist()
    assert got["prediction"].tolist() == want["prediction"].tolist()
    assert got["probability"].to_numpy() == pytest.approx(want["probability"].to_numpy(), abs=1e-12)
    assert len(seen) >= 5 and seen[-1][0] == seen[-1][1]  # several chunks, ending complete
    assert [p.name for p in tmp_path.iterdir()] == [target]  # no temporary file left


def peak_bytes(bundle, source, out) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        predict_file(bundle, source, out, chunk_rows=CHUNK)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_for_a_file_ten_times_the_chunk(bundle, big, tmp_path):
    folder, frame = big
    predict_file(bundle, folder / "one.csv", tmp_path / "warm.parquet")  # first-call caches are not the file's
    one = peak_bytes(bundle, folder / "one.csv", tmp_path / "one.parquet")
    ten = peak_bytes(bundle, folder / "big.csv", tmp_path / "ten.parquet")
    tracemalloc.start()
    whole = bundle.predict(pd.read_csv(folder / "big.csv"))  # the non-streaming way, for scale
    unchunked = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(whole) == 10 * CHUNK
    # uncollected reference cycles (bounded by the collector's thresholds) make the peaks noisy;
    # a file-sized buffer would make the ten-chunk peak ten times the one-chunk peak
    assert ten < 2 * one, (one, ten)
    assert ten < unchunked / 3, (ten, unchunked)


def test_bad_inputs_and_outputs_are_reported(bundle, big, tmp_path):
    folder, frame = big
    with pytest.raises(DataError, match="output 'x.txt' must end in .csv or .parquet"):
        predict_file(bundle, folder / "big.csv", "x.txt")
    with pytest.raises(DataError, match="input file 'nope.csv' does not exist"):
        predict_file(bundle, "nope.csv", tmp_path / "o.csv")
    frame.drop(columns=["age"]).to_csv(tmp_path / "no_age.csv", index=False)
    with pytest.raises(DataError, match="input lacks 1 column\\(s\\) the model needs: age"):
        predict_file(bundle, tmp_path / "no_age.csv", tmp_path / "o.csv")
    pd.DataFrame(columns=frame.columns).to_csv(tmp_path / "header_only.csv", index=False)
    with pytest.raises(DataError, match="input file '.*header_only.csv' has no rows to score"):
        predict_file(bundle, tmp_path / "header_only.csv", tmp_path / "o.csv")
    frame.assign(tenure_months=None).to_csv(tmp_path / "no_tenure.csv", index=False)
    with pytest.raises(DataError, match=r"no row of '.*no_tenure.csv' can be scored: scored 0 of 4000 rows; refused "
                                        r"4000: missing_required 4000 \(e.g. tenure_months: missing, and never "
                                        r"missing in training\)"):
        predict_file(bundle, tmp_path / "no_tenure.csv", tmp_path / "o.csv", chunk_rows=CHUNK)
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / ".o.csv.tmp").exists()


def test_explanations_are_added_chunk_by_chunk(bundle, big, tmp_path):
    folder, frame = big
    out = predict_file(bundle, folder / "big.parquet", tmp_path / "explained.parquet", chunk_rows=CHUNK, explain=True)
    got = pd.read_parquet(out)
    want = bundle.explain(frame.iloc[:2 * CHUNK])
    assert list(got.columns) == ["customer_id", "prediction", "probability", *want.columns, "reason"]
    pd.testing.assert_frame_equal(got.iloc[:2 * CHUNK][list(want.columns)], want, check_exact=False, atol=1e-12)
