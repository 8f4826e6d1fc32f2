"""Calls taxieta's Open Inference Protocol v2 endpoints with real clients.

Usage: oip_clients.py HOST:PORT MODEL TRIPS.json OUT.json

TRIPS.json holds columns {"pu": [...], "do": [...], "pax": [...],
"pickup": [...]} ("" for an unknown pickup time). The script asks for
server and model metadata and readiness with tritonclient's HTTP client,
infers the first trip and all of them, with JSON and with binary tensors,
with tritonclient and with the KServe SDK's InferenceRESTClient,
and writes what it got to OUT.json for the Go test to judge.
"""

import asyncio
import json
import os
import sys

import kserve

import numpy as np
import tritonclient.http as httpclient

OUTPUTS = ["duration_minutes", "low_minutes", "high_minutes"]


def infer(client, model, cols, n, binary):
    inputs = []
    for name, key in (("PULocationID", "pu"), ("DOLocationID", "do"), ("passenger_count", "pax")):
        t = httpclient.InferInput(name, [n], "INT64")
        t.set_data_from_numpy(np.array(cols[key][:n], dtype=np.int64), binary_data=binary)
        inputs.append(t)
    t = httpclient.InferInput("pickup_datetime", [n], "BYTES")
    t.set_data_from_numpy(np.array([s.encode() for s in cols["pickup"][:n]], dtype=np.object_), binary_data=binary)
    inputs.append(t)
    outputs = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in OUTPUTS]
    res = client.infer(model, inputs, outputs=outputs, request_id="py-%d" % n)
    got = {o: res.as_numpy(o).astype(np.float64).tolist() for o in OUTPUTS}
    got["id"] = res.get_response()["id"]
    got["model_version"] = res.get_response()["model_version"]
    return got


async def kserve_infer(base_url, model, cols, n, binary):
    """Infers with the KServe SDK's v2 REST client."""
    inputs = []
    for name, key in (("PULocationID", "pu"), ("DOLocationID", "do"), ("passenger_count", "pax")):
        t = kserve.InferInput(name, [n], "INT64")
        t.set_data_from_numpy(np.array(cols[key][:n], dtype=np.int64), binary_data=binary)
        inputs.append(t)
    t = kserve.InferInput("pickup_datetime", [n], "BYTES")
    t.set_data_from_numpy(np.array([s.encode() for s in cols["pickup"][:n]], dtype=np.object_), binary_data=binary)
    inputs.append(t)
    client = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2"))
    try:
        ready = await client.is_model_ready(base_url, model)
        res = await client.infer(base_url, kserve.InferRequest(model_name=model, infer_inputs=inputs, request_id="ks-%d" % n), model_name=model)
    finally:
        await client.close()
    got = {o.name: o.as_numpy().astype(np.float64).tolist() for o in res.outputs}
    got["id"] = res.id
    got["model_version"] = res.model_version
    got["ready"] = ready
    return got


def main():
    url, model, trips, out = sys.argv[1:5]
    with open(trips) as f:
        cols = json.load(f)
    client = httpclient.InferenceServerClient(url=url)
    report = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "server": client.get_server_metadata(),
        "model": client.get_model_metadata(model),
        "model_ready": client.is_model_ready(model),
        "results": {},
    }
    n_all = len(cols["pu"])
    for binary in (False, True):
        for n in (1, n_all):
            key = "http-%s-%d" % ("binary" if binary else "json", n)
            report["results"][key] = infer(client, model, cols, n, binary)
            key = "kserve-%s-%d" % ("binary" if binary else "json", n)
            report["results"][key] = asyncio.run(kserve_infer("http://" + url, model, cols, n, binary))
    with open(out + ".tmp", "w") as f:
        json.dump(report, f)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
