-- wrk script: POST /fhir/<Type> with a body picked at random from the file given as argument.
-- Usage: wrk ... -s bench/lua/create.lua URL -- Observation bodies.ndjson   (one JSON resource per line)
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local path, bodies
local headers = {["Content-Type"] = "application/fhir+json", ["Accept"] = "application/fhir+json"}

function init(args)
  path = "/fhir/" .. args[1]
  bodies = common.load_lines(args[2])
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
  return wrk.format("POST", path, headers, bodies[math.random(#bodies)])
end

done = common.done
