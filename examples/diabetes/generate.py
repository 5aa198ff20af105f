"""Write diabetes.csv from scikit-learn's bundled diabetes progression data (no download)."""

from pathlib import Path

from sklearn.datasets import load_diabetes

if __name__ == "__main__":
    out = Path(__file__).with_name("diabetes.csv")
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(out, index=False)
    print(f"wrote {out}")
