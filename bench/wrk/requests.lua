-- wrk script: cycles through the requests in the file named by the first script argument,
-- one JSON object per line {"method", "path", "headers", "body"}, each thread starting at its
-- own offset, and prints one line of JSON with the status counts at the end.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
  table.insert(threads, thread)
end

local function json_decode_line(line)
  return load("return " .. line)()  -- each line is a Lua table (bench/wrkload.py)
end

function init(args)
  requests = {}
  for line in io.lines(args[1]) do
    local item = json_decode_line(line)
    requests[#requests + 1] = wrk.format(item.method, item.path, item.headers, item.body)
  end
  position = (thread_index - 1) * math.floor(#requests / 8)
  statuses = {}
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests_)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(totals) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  io.write(string.format('WRK_RESULT {"requests": %d, "duration_us": %d, "errors_connect": %d, ' ..
    '"errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ", ")))
end
