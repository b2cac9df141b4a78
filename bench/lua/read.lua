-- wrk script: GET /fhir/<Type>/<id> for an id picked at random from the file given as argument.
-- Usage: wrk ... -s bench/lua/read.lua URL -- ids.txt   (ids.txt: one "Type/id" per line)
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local paths

function init(args)
  local ids = common.load_lines(args[1])
  paths = {}
  for i, ref in ipairs(ids) do paths[i] = "/fhir/" .. ref end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept"] = "application/fhir+json"})
end

done = common.done
