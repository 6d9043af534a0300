"""The Lua scripts the cache runs in Redis (by SHA, through ``RedisTier.script``).

Generation counters (see docs/cache.md, "Generations"): one Redis key per table or tag,
read and, when missing, *seeded* inside the same Lua script from Redis's own clock in
microseconds. A counter is bumped by ``INCR``; a missing one is seeded from ``TIME``
before the increment. Because a counter is bumped far less often than once per
microsecond, a reseeded counter is always above every value it had before, so entries
keyed by old generations can never be addressed again.
"""

from __future__ import annotations

import hashlib

_SEED = """
local function gen(k)
  local g = redis.call('GET', k)
  if not g then
    local t = redis.call('TIME')
    g = t[1] .. string.rep('0', 6 - #t[2]) .. t[2]
    redis.call('SET', k, g)
  end
  return g
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- is Redis younger than the quarantine? The "up" marker (holding when it was made, in
-- milliseconds) disappears with everything else when Redis restarts or is flushed;
-- whoever finds it missing makes it, together with a "young" marker that expires after
-- the quarantine (milliseconds)
local function young(up, ms)
  if redis.call('EXISTS', up) == 1 then
    return redis.call('EXISTS', up .. ':young') == 1
  end
  redis.call('SET', up, string.format('%.0f', now_ms()))
  if tonumber(ms) > 0 then
    redis.call('SET', up .. ':young', '1', 'PX', ms)
    return true
  end
  return false
end

-- publish an invalidation; when it asks for acknowledgements (ack ~= '-'), return what
-- its writer must wait for: the L1 leases still running {node, expiry (ms), ...}, Redis's
-- clock (ms) and, while Redis is young, how long leases granted before it came up may
-- still run (ms). See leases.py.
local function announce(channel, msg, ack, leases, up, quarantine, lease_ms)
  redis.call('PUBLISH', channel, msg)
  if ack == '-' then return {{}, 0, 0} end
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  local wait = 0
  if young(up, quarantine) then
    wait = math.max(0, (tonumber(redis.call('GET', up)) or 0) + tonumber(lease_ms) - now)
  end
  return {redis.call('ZRANGE', leases, 0, -1, 'WITHSCORES'), now, wait}
end
"""

#: KEYS: generation keys. ARGV: query-key prefix, guessed generations, "1" if the
#: caller already holds the value for the guess, the "up" marker key, the quarantine in
#: milliseconds, then (key, seconds, value) triples of results computed earlier to store
#: (they ride along instead of costing a round trip).
#: Returns {generations, value or false, 1 if Redis came up less than a quarantine ago}.
FETCH_LUA = (
    _SEED
    + """
for i = 6, #ARGV, 3 do redis.call('SET', ARGV[i], ARGV[i + 2], 'EX', ARGV[i + 1]) end
local gens = {}
for i, k in ipairs(KEYS) do gens[i] = gen(k) end
local gs = table.concat(gens, '.')
if young(ARGV[4], ARGV[5]) then return {gs, false, 1} end
if ARGV[3] == '1' and gs == ARGV[2] then return {gs, false, 0} end
if ARGV[1] == '' then return {gs, false, 0} end
return {gs, redis.call('GET', ARGV[1] .. gs), 0}
"""
)

#: KEYS: generation keys, then the leases key. ARGV: channel, this node's id, the ack key
#: (or "-": nobody needs to acknowledge), the "up" marker key, quarantine (ms), lease (ms).
#: Seeds, increments, publishes ``<node> G <ack> <len>:<key>=<generation>...`` (state.py).
#: Returns {{new generations}, {lease holders}, now (ms), young wait (ms)}.
BUMP_LUA = (
    _SEED
    + """
local n = #KEYS - 1
young(ARGV[4], ARGV[5])
local out, items = {}, {}
for i = 1, n do
  gen(KEYS[i])
  out[i] = redis.call('INCR', KEYS[i])
  local item = KEYS[i] .. '=' .. string.format('%.0f', out[i])
  items[i] = #item .. ':' .. item
end
local msg = ARGV[2] .. ' G ' .. ARGV[3] .. ' ' .. table.concat(items)
local w = announce(ARGV[1], msg, ARGV[3], KEYS[n + 1], ARGV[4], ARGV[5], ARGV[6])
return {out, w[1], w[2], w[3]}
"""
)

#: KEYS: the leases key, the "up" marker key. ARGV: channel, message, ack key (or "-"),
#: quarantine (ms), lease (ms). Publishes the message (a plain key changed).
#: Returns {{lease holders}, now (ms), young wait (ms)}.
ANNOUNCE_LUA = (
    _SEED
    + """
return announce(ARGV[1], ARGV[2], ARGV[3], KEYS[1], KEYS[2], ARGV[4], ARGV[5])
"""
)

#: KEYS: the key, the leases key, the "up" marker key. ARGV: delta, then ``announce``'s
#: channel, message, ack key, quarantine (ms), lease (ms). {false} when the key is missing
#: (Django: ValueError); an error reply when the value is not an integer (TypeError).
#: Returns {new value, lease holders, now (ms), young wait (ms)}.
INCR_LUA = (
    _SEED
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {false} end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
local w = announce(ARGV[2], ARGV[3], ARGV[4], KEYS[2], KEYS[3], ARGV[5], ARGV[6])
return {v, w[1], w[2], w[3]}
"""
)

#: KEYS: the leases key, the "up" marker key. ARGV: ``announce``'s channel, message, ack
#: key, quarantine (ms), lease (ms). ``cache.clear()``: empties the database and publishes
#: ``c``, keeping the leases and the "up" markers (a clear is not a restart: the holders
#: must still be waited for, and no quarantine starts). Returns what ``announce`` does.
CLEAR_LUA = (
    _SEED
    + """
local held = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local up = redis.call('GET', KEYS[2])
local young_ms = redis.call('PTTL', KEYS[2] .. ':young')
local w = announce(ARGV[1], ARGV[2], ARGV[3], KEYS[1], KEYS[2], ARGV[4], ARGV[5])
redis.call('FLUSHDB')
for i = 1, #held, 2 do redis.call('ZADD', KEYS[1], held[i + 1], held[i]) end
if up then redis.call('SET', KEYS[2], up) end
if young_ms > 0 then redis.call('SET', KEYS[2] .. ':young', '1', 'PX', young_ms) end
return w
"""
)

#: KEYS: the leases key, the "up" marker key. ARGV: this process's private channel, the
#: heartbeat token, lease (ms), quarantine (ms). Grants (or extends) this process's L1
#: lease, only if its subscription is alive (the heartbeat reached a subscriber) and Redis
#: is not young. Returns 1 if granted.
RENEW_LUA = (
    _SEED
    + """
if young(KEYS[2], ARGV[4]) then return 0 end
if redis.call('PUBLISH', ARGV[1], ARGV[2]) < 1 then return 0 end
local expiry = string.format('%.0f', now_ms() + tonumber(ARGV[3]))
redis.call('ZADD', KEYS[1], expiry, ARGV[2]:match('^(%S+)'))
return 1
"""
)


#: name -> (SHA1, text) of the Lua scripts
SCRIPTS = {
    name: (hashlib.sha1(text.encode()).hexdigest(), text)  # noqa: S324 - Redis's script id
    for name, text in (
        ("fetch", FETCH_LUA),
        ("bump", BUMP_LUA),
        ("announce", ANNOUNCE_LUA),
        ("incr", INCR_LUA),
        ("renew", RENEW_LUA),
        ("clear", CLEAR_LUA),
    )
}
