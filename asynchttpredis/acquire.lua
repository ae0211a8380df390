-- Admission for one request to one host, atomic in Redis.
-- KEYS[1]: sorted set of leases in flight (member: lease id, score: expiry in us)
-- KEYS[2]: GCRA theoretical arrival time (us)
-- ARGV[1]: lease id ("" when no cap)  ARGV[2]: cap (0: none)
-- ARGV[3]: lease TTL (us)             ARGV[4]: emission interval (us, 0: no rate)
-- Returns {0,0} admitted; {1,0} cap full; {2,wait_us} rate: retry after wait.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cap = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local interval = tonumber(ARGV[4])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= cap then
    return {1, 0}
  end
end
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tat < now then tat = now end
  if tat > now then
    return {2, tat - now}
  end
  redis.call('SET', KEYS[2], tat + interval, 'PX', math.ceil(interval / 1000) + 1000)
end
if cap > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) * 2)
end
return {0, 0}
