-- wrk script: Open Inference Protocol v2 REST infer of 10,000 trips (JSON
-- tensors), the same zone pairs as batch.lua.
wrk.method = "POST"
wrk.path = "/v2/models/taxi-duration/infer"
wrk.headers["Content-Type"] = "application/json"
local pu, do_, pc = {}, {}, {}
for i = 0, 9999 do
  pu[#pu + 1] = tostring(i % 265 + 1)
  do_[#do_ + 1] = tostring((i * 7) % 265 + 1)
  pc[#pc + 1] = tostring(i % 5)
end
local function tensor(name, values)
  return string.format('{"name":"%s","datatype":"INT64","shape":[10000],"data":[%s]}', name, table.concat(values, ","))
end
wrk.body = '{"inputs":[' .. tensor("PULocationID", pu) .. "," .. tensor("DOLocationID", do_) .. "," .. tensor("passenger_count", pc) .. "]}"
