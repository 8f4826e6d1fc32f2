-- wrk script: POST /predict with a lab-format trip.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}'
