-- wrk script: Open Inference Protocol v2 REST infer of one trip (JSON).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs":[{"name":"PULocationID","datatype":"INT64","shape":[1],"data":[74]},{"name":"DOLocationID","datatype":"INT64","shape":[1],"data":[75]},{"name":"passenger_count","datatype":"INT64","shape":[1],"data":[1]}]}'
