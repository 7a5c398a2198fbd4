-- wrk script of `scripts/bench gateway`: GETs paced per connection (wrk's delay hook), so that the
-- latency is measured at a steady load below saturation rather than at the most the machine can do.
-- Environment: PAUSE_MS (the pause after each response, whole milliseconds), TOKEN (optional bearer).
local pause = tonumber(os.getenv("PAUSE_MS") or "10")
local token = os.getenv("TOKEN")

function delay()
    return pause
end

function request()
    if token and token ~= "" then
        return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
    end
    return wrk.format("GET")
end
