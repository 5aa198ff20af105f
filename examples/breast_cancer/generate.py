"""Write breast_cancer.csv from scikit-learn's bundled Wisconsin breast cancer data (no download)."""

from pathlib import Path

from sklearn.datasets import load_breast_cancer

if __name__ == "__main__":
    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    out = Path(__file__).with_name("breast_cancer.csv")
    frame.to_csv(out, index=False)
    print(f"wrote {out}")
