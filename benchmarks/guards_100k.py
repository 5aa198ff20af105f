"""How long the pre-training guards take on 100,000 rows (the churn generator), end to end.

Run: PYTHONPATH=src python benchmarks/guards_100k.py [n_rows]
"""

import sys
import time

from mlsmith.data import infer_schema
from mlsmith.datasets import make_churn
from mlsmith.guards import check_data
from mlsmith.problem import Problem
from mlsmith.split import split_train_test
from mlsmith.target import TargetCodec

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
df = make_churn(n, seed=0)
problem = Problem(target="churned", data={"path": "unused.csv", "id_columns": ["customer_id"],
                                          "prediction_time": "2026-06-30"}).resolve(df["churned"])
schema = infer_schema(df, "churned", ["customer_id"])
train, held, info = split_train_test(df, problem)
y = TargetCodec.fit(train["churned"], problem.type, problem.positive_class).encode(train["churned"])
start = time.perf_counter()
report = check_data(problem, schema, train, y, held, info.strategy)
elapsed = time.perf_counter() - start
print(f"{len(df):,} rows x {df.shape[1]} columns: check_data {elapsed:.1f} s; findings: "
      + ", ".join(f"{f.check}({f.severity})" for f in report))
