"""Calls taxieta's Open Inference Protocol v2 endpoints with real clients.

Usage: oip_clients.py HOST:PORT MODEL TRIPS.json OUT.json
       oip_clients.py --grpc GRPC_HOST:PORT MODEL TRIPS.json OUT.json

TRIPS.json holds columns {"pu": [...], "do": [...], "pax": [...],
"pickup": [...]} ("" for an unknown pickup time). The script asks for
server and model metadata and readiness with tritonclient's HTTP client,
infers the first trip and all of them, with JSON and with binary tensors,
with tritonclient and with the KServe SDK's InferenceRESTClient (or, with
--grpc, the same over gRPC with tritonclient.grpc, and the gRPC health
service's Check and Watch with grpcio), and writes what it got to
OUT.json for the Go test to judge. The two modes run in separate processes
because kserve and tritonclient.grpc register the same protobuf names
(inference.*) and cannot be imported together.
"""

import asyncio
import json
import os
import sys

import numpy as np

OUTPUTS = ["duration_minutes", "low_minutes", "high_minutes"]


def infer(client, model, cols, n, binary):
    import tritonclient.http as httpclient

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


def grpc_infer(client, model, cols, n):
    """Infers with tritonclient.grpc: raw_input_contents in, raw_output_contents out."""
    import tritonclient.grpc as grpcclient

    inputs = []
    for name, key in (("PULocationID", "pu"), ("DOLocationID", "do"), ("passenger_count", "pax")):
        t = grpcclient.InferInput(name, [n], "INT64")
        t.set_data_from_numpy(np.array(cols[key][:n], dtype=np.int64))
        inputs.append(t)
    t = grpcclient.InferInput("pickup_datetime", [n], "BYTES")
    t.set_data_from_numpy(np.array([s.encode() for s in cols["pickup"][:n]], dtype=np.object_))
    inputs.append(t)
    outputs = [grpcclient.InferRequestedOutput(o) for o in OUTPUTS]
    res = client.infer(model, inputs, outputs=outputs, request_id="grpc-%d" % n)
    got = {o: res.as_numpy(o).astype(np.float64).tolist() for o in OUTPUTS}
    resp = res.get_response()
    got["id"] = resp.id
    got["model_version"] = resp.model_version
    return got


async def kserve_infer(base_url, model, cols, n, binary):
    """Infers with the KServe SDK's v2 REST client."""
    import kserve

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


def grpc_health(url):
    """Checks and watches grpc.health.v1.Health with grpcio itself (the
    venv has grpcio through tritonclient[grpc], not the grpc_health
    package, so the messages are written by hand: a HealthCheckRequest for
    service "" is empty, and a HealthCheckResponse is field 1, the status,
    as a varint: 1 SERVING, 2 NOT_SERVING)."""
    import grpc

    def status(b):
        return {b"": "UNKNOWN", b"\x08\x01": "SERVING", b"\x08\x02": "NOT_SERVING"}.get(bytes(b), repr(bytes(b)))

    raw = dict(request_serializer=lambda m: m, response_deserializer=lambda b: b)
    with grpc.insecure_channel(url) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check", **raw)(b"", timeout=10)
        watch = ch.unary_stream("/grpc.health.v1.Health/Watch", **raw)(b"", timeout=10)
        first = next(watch)
        watch.cancel()
    return {"check": status(check), "watch": status(first)}


def grpc_main(url, model, cols):
    """The report of the gRPC mode."""
    import tritonclient.grpc as grpcclient

    gc = grpcclient.InferenceServerClient(url=url)
    report = {
        "grpc": {
            "live": gc.is_server_live(),
            "ready": gc.is_server_ready(),
            "model_ready": gc.is_model_ready(model),
            "server": gc.get_server_metadata(as_json=True),
            "model": gc.get_model_metadata(model, as_json=True),
            "health": grpc_health(url),
        },
        "results": {},
    }
    for n in (1, len(cols["pu"])):
        report["results"]["grpc-%d" % n] = grpc_infer(gc, model, cols, n)
    gc.close()
    return report


def main():
    args = sys.argv[1:]
    grpc_mode = args[:1] == ["--grpc"]
    if grpc_mode:
        args = args[1:]
    url, model, trips, out = args[:4]
    with open(trips) as f:
        cols = json.load(f)
    if grpc_mode:
        report = grpc_main(url, model, cols)
    else:
        report = http_main(url, model, cols)
    with open(out + ".tmp", "w") as f:
        json.dump(report, f)
    os.replace(out + ".tmp", out)


def http_main(url, model, cols):
    """The report of the HTTP mode."""
    import tritonclient.http as httpclient

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
    return report


if __name__ == "__main__":
    main()
