"""Loads a model as an MLflow user would and scores trips with it, for the
tests of taxieta's MLflow model directories (internal/mlmodel,
internal/registry, cmd/taxieta).

usage: mlflow_pyfunc_predict.py MODEL_URI TRIPS.json OUT.json

MODEL_URI is anything mlflow.pyfunc.load_model takes (a directory, or
models:/NAME@ALIAS with MLFLOW_TRACKING_URI set). TRIPS.json is a DataFrame
in "split" orientation ({"columns": [...], "data": [[...], ...]}) of int64
columns. OUT.json gets the prediction's columns (lists of numbers, each
float32 written exactly), their dtypes, the model's signature as MLflow
reports it (mlflow.models.get_model_info) and the MLflow version.
"""

import json
import sys

import mlflow
import numpy as np
import pandas as pd


def main(uri, trips_path, out_path):
    with open(trips_path) as f:
        split = json.load(f)
    df = pd.DataFrame(np.array(split["data"], dtype=np.int64).reshape(-1, len(split["columns"])),
                      columns=split["columns"])
    info = mlflow.models.get_model_info(uri)
    model = mlflow.pyfunc.load_model(uri)
    pred = model.predict(df)
    out = {
        "mlflow_version": mlflow.__version__,
        "rows": len(pred),
        "columns": {c: [float(v) for v in pred[c].to_numpy()] for c in pred.columns},
        "dtypes": {c: str(pred[c].dtype) for c in pred.columns},
        "signature": info.signature.to_dict() if info.signature is not None else None,
        "flavors": sorted(info.flavors),
        "loader_module": info.flavors.get("python_function", {}).get("loader_module"),
    }
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
