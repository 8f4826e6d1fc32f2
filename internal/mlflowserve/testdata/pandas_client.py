"""Scores trips through taxieta's /invocations the way MLflow users do.

Usage: python pandas_client.py BASE_URL TRIPS_JSON

TRIPS_JSON is a list of {"PULocationID", "DOLocationID", "passenger_count"
(null when unknown), "pickup_datetime"}. Prints one JSON object: for each way
of sending the trips, the predictions taxieta answered; and the answers of
MLflow's own scoring client to ping and version.
"""
import json
import sys
from urllib.parse import urlparse

import pandas as pd
import requests
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

base, trips_path = sys.argv[1], sys.argv[2]
with open(trips_path) as f:
    df = pd.DataFrame(json.load(f))
# As a data scientist's frame has them: zones int64, passengers float64 with NaN.
df["PULocationID"] = df["PULocationID"].astype("int64")
df["DOLocationID"] = df["DOLocationID"].astype("int64")
df["passenger_count"] = df["passenger_count"].astype("float64")

def post(body, content_type):
    r = requests.post(base + "/invocations", data=body, headers={"Content-Type": content_type}, timeout=60)
    r.raise_for_status()
    return r.json()["predictions"]

out = {
    "split": post('{"dataframe_split": ' + df.to_json(orient="split") + "}", "application/json"),
    "records": post('{"dataframe_records": ' + df.to_json(orient="records") + "}", "application/json"),
    "csv": post(df.to_csv(index=False), "text/csv"),
    "csv_index": post(df.to_csv(), "text/csv"),
    "inputs": post(json.dumps({"inputs": {c: json.loads(df[c].to_json(orient="values")) for c in df.columns}, "params": {}}), "application/json"),
}

u = urlparse(base)
client = ScoringServerClient(u.hostname, u.port)
client.ping()
out["version"] = client.get_version()
resp = client.invoke(df)
# PredictionsResponse: a dict with "predictions"; get_predictions gives a DataFrame.
preds = resp.get_predictions()
out["mlflow_client"] = json.loads(preds.to_json(orient="records"))
bad = requests.post(base + "/invocations", data='{"dataframe_split": {"columns": ["PULocationID", "DOLocationID"], "data": [[0, 5]]}}',
                    headers={"Content-Type": "application/json"}, timeout=60)
out["bad"] = {"status": bad.status_code, "body": bad.json()}
print(json.dumps(out))
