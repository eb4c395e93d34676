-- wrk script for bench/ingest.py: POST a realistic Thumbtack v2 lead with a unique leadID per
-- request, count response statuses, and report a machine-readable summary from done().
--
-- Usage: wrk ... -s bench/lead.lua URL -- PATH AUTHORIZATION RUN_ID TEMPLATE_FILE [ACK_DIR]
--   PATH           request path, e.g. /v1/lead or /_bench/ok
--   AUTHORIZATION  full Authorization header value, e.g. "Basic dGh1bWJ0YWNrOnNlY3JldA=="
--   RUN_ID         prefix that makes IDs unique across runs
--   TEMPLATE_FILE  JSON body in which every "@@ID@@" is replaced by the request's unique ID
--   ACK_DIR        optional: each thread writes the leadID of every 2xx answer to
--                  ACK_DIR/acked-<thread>.txt, so acknowledged leads can be checked in the DB

local threads = {}
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("tid", next_thread)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
local path, headers, prefix, parts
local counter = 0
local ack_file = nil
ok = 0
bad = 0
codes = ""
local code_counts = {}

local function split(text, sep)
  local out, start = {}, 1
  while true do
    local i, j = string.find(text, sep, start, true)
    if not i then
      table.insert(out, string.sub(text, start))
      return out
    end
    table.insert(out, string.sub(text, start, i - 1))
    start = j + 1
  end
end

function init(args)
  path = args[1]
  headers = {
    ["Authorization"] = args[2],
    ["Content-Type"] = "application/json",
  }
  prefix = args[3] .. "-t" .. tid .. "-"
  local f = assert(io.open(args[4], "rb"))
  parts = split(f:read("*a"), "@@ID@@")
  f:close()
  if args[5] and args[5] ~= "" then
    ack_file = assert(io.open(args[5] .. "/acked-" .. tid .. ".txt", "w"))
    ack_file:setvbuf("line")
  end
end

function request()
  counter = counter + 1
  local id = prefix .. counter
  local body = table.concat(parts, id)
  return wrk.format("POST", path, headers, body)
end

function response(status, _, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    if ack_file then
      local lead_id = string.match(body, '"leadID":"([^"]+)"')
      if lead_id then
        ack_file:write(lead_id, "\n")
      end
    end
  else
    bad = bad + 1
    code_counts[status] = (code_counts[status] or 0) + 1
    local listed = {}
    for code, n in pairs(code_counts) do
      table.insert(listed, code .. ":" .. n)
    end
    codes = table.concat(listed, ",")
  end
end

function done(summary, latency, _)
  local total_ok, total_bad, all_codes = 0, 0, {}
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    local c = thread:get("codes")
    if c ~= "" then
      table.insert(all_codes, c)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'TACKBRIDGE_WRK {"duration_us":%d,"requests":%d,"bytes":%d,"ok_2xx":%d,"non_2xx":%d,'
      .. '"non_2xx_codes":"%s","errors":{"connect":%d,"read":%d,"write":%d,"status":%d,'
      .. '"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, summary.requests, summary.bytes, total_ok, total_bad,
    table.concat(all_codes, ","), e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean
  ))
end
