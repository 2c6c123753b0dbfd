-- wrk script: POST the JSON body in $GUICHET_BENCH_BODY (a file) with the bearer token
-- in $GUICHET_BENCH_TOKEN, and print requests/s, p50 and p99.
local file = io.open(os.getenv("GUICHET_BENCH_BODY"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("GUICHET_BENCH_TOKEN")

local non_200 = 0
response = function(status, headers, body)
  if status ~= 200 then non_200 = non_200 + 1 end
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  io.write(string.format("requests/s: %.1f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50: %.2f ms\n", latency:percentile(50) / 1000))
  io.write(string.format("p99: %.2f ms\n", latency:percentile(99) / 1000))
  io.write(string.format("requests: %d, errors: %d\n", summary.requests, errors))
end
