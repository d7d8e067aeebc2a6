-- wrk script for the bare Flask baseline: the same kind of body as post_message.lua.
function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/echo", {["Content-Type"] = "application/json"},
    '{"text": "how long does delivery take (ref ' .. counter .. ')"}')
end
