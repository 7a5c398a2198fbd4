-- wrk script of `scripts/bench rewards`: grants of one hot reward straight to the rewards port, as the
-- canvas sends them (internal credential, system caller), each with its own customer and Idempotency-Key.
-- Environment: SECRET, REWARD, RUN (a prefix that keeps keys unique across runs).
local counter = 0
local thread_id = 0
local secret = os.getenv("SECRET")
local reward = os.getenv("REWARD")
local run = os.getenv("RUN") or "r"
local statuses = {}

function setup(thread)
    thread_id = thread_id + 1
    thread:set("tid", thread_id)
end

function request()
    counter = counter + 1
    local who = string.format("%s-%d-%d", run, tid or 0, counter)
    return wrk.format("POST", "/api/v1/rewards/" .. reward .. "/grants", {
        ["Content-Type"] = "application/json", ["Idempotency-Key"] = who,
        ["X-Lattice-Internal"] = secret, ["X-Lattice-User"] = "system:bench", ["X-Lattice-Org"] = "hq",
        ["X-Lattice-Org-Path"] = "/hq/", ["X-Lattice-Roles"] = "system", ["X-Lattice-Rights"] = "view,edit",
    }, '{"customerId":"' .. who .. '","canvasId":"cnv_bench","nodeId":"n1"}')
end

function response(status, headers, body)
    if status ~= 201 and status ~= 409 then
        io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    end
end
