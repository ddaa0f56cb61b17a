-- lease.lua - take the lease when free, renew it when ours, else report its holder: {1, ""}
-- held (taken or renewed), {0, holder, pttl} held by another; for "drop" {1, ""} released or
-- {0, holder} not ours (store/lease.c; calling convention: lease.args).
-- @msg@
local v = redis.call('GET', k_lease)
if op == 'drop' then
  if v == token then redis.call('DEL', k_lease); return {1, ''} end
  return {0, v or ''}
end
if v == token then
  redis.call('PEXPIRE', k_lease, ttl); return {1, ''}
end
if not v then
  redis.call('SET', k_lease, token, 'NX', 'PX', ttl); return {1, ''}
end
return {0, v, redis.call('PTTL', k_lease)}
