-- manual.lua - an operator's add, remove or import, with its event (store/manual.c;
-- calling convention: manual.args).
-- @msg@
local P = string.sub(k_events, 1, #k_events - 6)
bh_prune(P, now, SUPCOUNT_PRUNE)
local changed = 0
local expires = 0
if op == 'import' then
  if redis.call('EXISTS', k_sup) == 1 then return {0, ''} end
  op = 'add'
end
if op == 'add' then
  local nf = bh_field_of(supf); bh_sup_old(P, k_sup, nf)
  redis.call('HSETNX', k_sup, 'first_seen', now)
  redis.call('HINCRBY', k_sup, 'count', 1)
  local h = {'HSET', k_sup, 'last_seen', now}
  for i = 1, #supf do h[#h + 1] = supf[i] end
  redis.call(unpack(h))
  if duration == 0 then redis.call('PERSIST', k_sup)
  else redis.call('EXPIRE', k_sup, duration); expires = now + duration end
  redis.call('HSET', k_sup, 'expires', expires)
  bh_sup_new(P, k_sup, nf, expires)
  if list ~= '' then
    redis.call('SADD', k_idx, list)
    local it = redis.call('TTL', k_idx)
    if expires == 0 then redis.call('PERSIST', k_idx)
    elseif it ~= -1 and it < duration then redis.call('EXPIRE', k_idx, duration) end
  end
  changed = 1
  ev[#ev + 1] = 'expires'; ev[#ev + 1] = tostring(expires)
else
  local was = redis.call('HGET', k_sup, 'reason')
  bh_sup_old(P, k_sup, nil)
  changed = redis.call('DEL', k_sup)
  redis.call('DEL', k_soft)
  if list ~= '' then redis.call('SREM', k_idx, list) end
  ev[#ev + 1] = 'result'; ev[#ev + 1] = (changed == 1) and 'removed' or 'not suppressed'
  if was then ev[#ev + 1] = 'was'; ev[#ev + 1] = was end
end
local a = {'XADD', k_events, 'MAXLEN', '~', maxlen, '*'}
for i = 1, #ev do a[#a + 1] = ev[i] end
local id = redis.call(unpack(a))
if op == 'add' then redis.call('HSET', k_sup, 'event', id) end
redis.call('LPUSH', k_evidx, id)
redis.call('LTRIM', k_evidx, 0, ADDR_EVENTS_LAST)
redis.call('EXPIRE', k_evidx, ADDR_EVENTS_TTL)
redis.call('HINCRBY', k_stats, sfield, 1)
redis.call('EXPIRE', k_stats, STATS_TTL)
return {changed, id}
