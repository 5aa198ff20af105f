"""Data shipped with mlsmith: a realistic customer-churn table, generated, so nothing is downloaded."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CHURN_PROBLEM", "make_churn"]

#: The problem.yaml of the churn example, in the shape of the classic churn spec.
CHURN_PROBLEM = """\
# Customer churn: which customers will churn in the next 30 days?
name: Customer Churn Prediction
decision: Which customers will churn in the next 30 days, so customer success can call them first?
type: binary_classification
target: churned
positive_class: 1
success_metric: recall          # catch most churners ...
threshold: 0.80                 # ... at least 80% of them on the test split
secondary_metrics: [precision, f1, roc_auc]
baseline:
  rule: "tenure_months < 3"     # today's rule: new customers are called
  recall: 0.55                  # its documented figures, for the record
  precision: 0.40
constraints:
  latency_ms: 100
  interpretability: high
  retraining_frequency: weekly
  time_budget_s: 600
stakeholders: [product team, customer success]
data_sources: [CRM, usage_logs, billing]
data:
  path: churn.csv
  id_columns: [customer_id]
split: {test_size: 0.2, cv_folds: 5}
seed: 42
"""


def make_churn(n_rows: int = 5000, *, seed: int) -> pd.DataFrame:
    """A customer-churn table with genuine signal, about 27% churners, and the usual defects.

    Columns: customer id, signup and last-login dates, tenure, contract type, payment method,
    internet service, monthly charges, income (about 5% missing), support calls, sessions in the
    last 30 days, age, and the target ``churned``. About 0.5% of rows are exact duplicates.

    Examples
    --------
    >>> df = make_churn(2000, seed=1)
    >>> df.shape, round(float(df["churned"].mean()), 1)
    ((2010, 14), 0.3)
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    today = pd.Timestamp("2026-06-30")
    tenure = np.clip(rng.exponential(20, n), 1, 72).round(0)
    contract = rng.choice(["Monthly", "Annual", "Two-Year"], n, p=[0.55, 0.28, 0.17])
    payment = rng.choice(["card", "bank transfer", "electronic check", "mailed check"], n, p=[0.35, 0.25, 0.28, 0.12])
    internet = rng.choice(["fiber", "dsl", "no service"], n, p=[0.45, 0.4, 0.15])
    charges = np.round(rng.normal(65, 20, n) + np.where(internet == "fiber", 20, 0), 2).clip(15, 150)
    income = np.round(rng.lognormal(10.5, 0.6, n), 0)
    support = rng.poisson(1.2 + 0.8 * (internet == "fiber"), n)
    sessions = rng.poisson(np.clip(25 - 0.15 * support * 10 + rng.normal(0, 4, n), 1, None))
    days_since_login = np.round(rng.exponential(6, n) + 40 * (sessions < 8) * rng.random(n), 0)
    age = rng.integers(18, 80, n)
    logit = (
        -1.95
        + 1.3 * (contract == "Monthly") - 0.9 * (contract == "Two-Year")
        - 0.045 * tenure
        + 0.33 * support
        + 0.016 * (charges - 65)
        - 0.05 * (sessions - 20)
        + 0.035 * days_since_login
        + 0.35 * (payment == "electronic check")
        - 0.12 * (np.log(income) - 10.5)
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    signup = today - pd.to_timedelta(np.round(tenure * 30.4), unit="D")
    last_login = today - pd.to_timedelta(days_since_login, unit="D")
    df = pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in range(n)],
        "signup_date": signup.strftime("%Y-%m-%d"),
        "last_login": last_login.strftime("%Y-%m-%d"),
        "tenure_months": tenure.astype(int),
        "contract": contract,
        "payment_method": payment,
        "internet_service": internet,
        "monthly_charges": charges,
        "income": income,
        "support_calls": support,
        "sessions_30d": sessions,
        "age": age,
        "region": rng.choice(["north", "south", "east", "west"], n),
        "churned": churned,
    })
    df.loc[rng.random(n) < 0.05, "income"] = np.nan
    duplicates = df.sample(max(1, n // 200), random_state=seed)
    return pd.concat([df, duplicates], ignore_index=True)
