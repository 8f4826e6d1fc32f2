#!/usr/bin/env python3
"""scikit-learn reference figures for taxieta's Go linear model.

Fits the mlops-zoomcamp week-1 baseline (DictVectorizer + LinearRegression,
target = trip duration in minutes) on NYC TLC green taxi data for three
train->valid splits and writes the metrics as JSON. The Go test in
internal/model compares its linear model's validation RMSE against the
"linear" figures recorded here (testdata/sklearn_reference.json), within 0.5%.

Cleaning: duration = dropoff - pickup in minutes, kept if 1 <= duration <= 60;
PULocationID and DOLocationID must be integers in 1..265.

Feature sets:
  linear:        {"PULocationID": "<int>", "DOLocationID": "<int>",
                  "passenger_count": "<int>" or "NA" when null}
  pair_distance: {"PU_DO": "<PU>_<DO>", "trip_distance": float}  (extra context)

Rerun (from the repo root):
  /work/venv-sk/bin/python scripts/sklearn_reference.py --out testdata/sklearn_reference.json
Needs: scikit-learn (1.5.2 used), pandas, pyarrow.
"""
import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import sklearn
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

SPLITS = [("2021-01", "2021-02"), ("2022-01", "2022-02"), ("2023-01", "2023-02")]
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def load(data_dir: Path, month: str) -> pd.DataFrame:
    """Read one green month and apply the cleaning rules; adds 'duration' (minutes)."""
    df = pd.read_parquet(data_dir / f"green_tripdata_{month}.parquet")
    df["duration"] = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)]
    for col in ("PULocationID", "DOLocationID"):
        v = pd.to_numeric(df[col], errors="coerce")
        df = df[v.notna() & (v % 1 == 0) & (v >= 1) & (v <= 265)].copy()
        df[col] = df[col].astype("int64")
    return df.reset_index(drop=True)


def linear_features(df: pd.DataFrame) -> list[dict]:
    pc = ["NA" if pd.isna(p) else str(int(p)) for p in df.passenger_count]
    return [{"PULocationID": str(pu), "DOLocationID": str(do), "passenger_count": c}
            for pu, do, c in zip(df.PULocationID, df.DOLocationID, pc)]


def pair_features(df: pd.DataFrame) -> list[dict]:
    return [{"PU_DO": f"{pu}_{do}", "trip_distance": float(d)}
            for pu, do, d in zip(df.PULocationID, df.DOLocationID, df.trip_distance)]


def fit_eval(featurize, train: pd.DataFrame, valid: pd.DataFrame) -> dict:
    """DictVectorizer fit on train, LinearRegression with defaults; metrics in minutes."""
    dv = DictVectorizer()
    X_train = dv.fit_transform(featurize(train))
    X_valid = dv.transform(featurize(valid))
    y_train, y_valid = train.duration.to_numpy(), valid.duration.to_numpy()
    lr = LinearRegression().fit(X_train, y_train)
    p_train, p_valid = lr.predict(X_train), lr.predict(X_valid)
    return {
        "train_rmse": float(np.sqrt(mean_squared_error(y_train, p_train))),
        "valid_rmse": float(np.sqrt(mean_squared_error(y_valid, p_valid))),
        "valid_mae": float(mean_absolute_error(y_valid, p_valid)),
        "valid_r2": float(r2_score(y_valid, p_valid)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    ap.add_argument("--out", type=Path, default=None, help="output JSON file (default: stdout)")
    args = ap.parse_args()

    splits = []
    for tr, va in SPLITS:
        train, valid = load(args.data_dir, tr), load(args.data_dir, va)
        splits.append({
            "train": f"green:{tr}",
            "valid": f"green:{va}",
            "train_rows": len(train),
            "valid_rows": len(valid),
            "linear": fit_eval(linear_features, train, valid),
            "pair_distance": fit_eval(pair_features, train, valid),
        })

    result = {
        "generated_by": "scripts/sklearn_reference.py",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "pandas_version": pd.__version__,
        "python_version": platform.python_version(),
        "splits": splits,
    }
    # json uses repr() for floats, so they round-trip at full precision.
    text = json.dumps(result, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
