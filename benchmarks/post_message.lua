-- wrk script: each request posts a new customer message (a distinct text, so the reply cache
-- misses) to one of the conversations prepared by http_load.py. Args: conversations file,
-- questions file, messages per conversation.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do table.insert(out, line) end
  return out
end

function init(args)
  conversations = lines(args[1])
  questions = lines(args[2])
  per_conversation = tonumber(args[3])
  thread_count = tonumber(args[4])
  counter = 0
end

function request()
  counter = counter + 1
  local slot = math.floor(counter / per_conversation) * thread_count + id
  local conversation = conversations[(slot % #conversations) + 1]
  local cid, token = conversation:match("(%S+) (%S+)")
  local question = questions[(counter * 7 + id) % #questions + 1]
  local body = question .. " (ref " .. id .. "-" .. counter .. ")\"}"
  return wrk.format("POST", "/api/v1/conversations/" .. cid .. "/messages",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
