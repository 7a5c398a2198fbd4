-- wrk script of `scripts/bench profile`: single-event POSTs with unique event ids, paced per connection
-- (wrk's delay hook) so that CONNECTIONS connections send about RATE events per second in all.
-- Environment: TOKEN, CUSTOMERS, RATE, CONNECTIONS; PAUSE_MS, when set, is the pause itself (the bench
-- calibrates it: each connection's cycle is its pause plus the response time).
local counter = 0
local thread_id = 0
local token = os.getenv("TOKEN")
local customers = tonumber(os.getenv("CUSTOMERS") or "1000")
local pause = tonumber(os.getenv("PAUSE_MS") or "")   -- whole milliseconds: wrk truncates
    or 1000 * tonumber(os.getenv("CONNECTIONS") or "16") / tonumber(os.getenv("RATE") or "1000")

function setup(thread)
    thread_id = thread_id + 1
    thread:set("tid", thread_id)
end

function init(args)
    math.randomseed(os.time() + (tid or 0))
end

function delay()
    return pause
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"eventId":"w%d-%d-%d-%d","customerId":"B%07d","name":"app_login","occurredAt":"%s","properties":{"channel":"app"}}',
        tid or 0, os.time(), counter, math.random(1, 1000000000), math.random(0, customers - 1),
        os.date("!%Y-%m-%dT%H:%M:%SZ"))
    return wrk.format("POST", "/api/v1/events",
        {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
    if status ~= 200 and status ~= 202 then
        io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    end
end
