-- wrk script: POST /predict/batch with 10,000 trips covering many zone pairs.
wrk.method = "POST"
wrk.path = "/predict/batch"
wrk.headers["Content-Type"] = "application/json"
local trips = {}
for i = 0, 9999 do
  trips[#trips + 1] = string.format('{"PULocationID": %d, "DOLocationID": %d, "passenger_count": %d}', i % 265 + 1, (i * 7) % 265 + 1, i % 5)
end
wrk.body = "[" .. table.concat(trips, ",") .. "]"
