-- Pushes the expiry of leases still present forward by ARGV[1] us.
-- KEYS[1]: in-flight sorted set; ARGV[2..]: lease ids held by the caller.
local t = redis.call('TIME')
local exp = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', exp, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) / 1000) * 2)
return #ARGV - 1
