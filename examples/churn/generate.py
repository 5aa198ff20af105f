"""Write churn.csv: the generated customer-churn table of the demo (seeded, so always the same)."""

from pathlib import Path

from mlsmith.datasets import make_churn

if __name__ == "__main__":
    out = Path(__file__).with_name("churn.csv")
    make_churn(n_rows=5000, seed=0).to_csv(out, index=False)
    print(f"wrote {out}")
