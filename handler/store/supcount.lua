-- supcount.lua - the suppression counters ({p}:supcount, {p}:supexp: docs/redis.md), shared
-- by the apply, manual and counts scripts (cmake/store_proto.cmake puts this first in each).
-- bh_prune takes due members off {p}:supexp and decrements their field unless the key still
-- holds a suppression counted under it; bh_sup_old uncounts what a key held before a write,
-- bh_sup_new counts what it holds now. P is "{prefix}:".
local function bh_cnt(P, f, d)
  if redis.call('HINCRBY', P .. 'supcount', f, d) <= 0 then
    redis.call('HDEL', P .. 'supcount', f)
  end
end
local function bh_field(l, r) return ((l and l ~= '') and l or '-') .. '\t' .. r end
local function bh_field_of(t)
  local l, r = '', '-'
  for i = 1, #t, 2 do
    if t[i] == 'list' then l = t[i + 1] elseif t[i] == 'reason' then r = t[i + 1] end
  end
  return bh_field(l, r)
end
local function bh_prune(P, now, max)
  local due = redis.call('ZRANGEBYSCORE', P .. 'supexp', '-inf', now, 'LIMIT', 0, max)
  for _, m in ipairs(due) do
    local f, k = string.match(m, '^(.*)\t([^\t]*)$')
    redis.call('ZREM', P .. 'supexp', m)
    local o = redis.call('HMGET', k, 'list', 'reason')
    if o[2] and bh_field(o[1], o[2]) == f then
      local ttl = redis.call('TTL', k)
      if ttl > 0 then redis.call('ZADD', P .. 'supexp', now + ttl, m) end
    else
      bh_cnt(P, f, -1)
    end
  end
  return #due
end
local function bh_sup_old(P, k, nf)
  local o = redis.call('HMGET', k, 'list', 'reason')
  local of = o[2] and bh_field(o[1], o[2])
  if not of and nf and redis.call('ZSCORE', P .. 'supexp', nf .. '\t' .. k) then
    of = nf
  end
  if of then
    bh_cnt(P, of, -1); redis.call('ZREM', P .. 'supexp', of .. '\t' .. k)
  end
end
local function bh_sup_new(P, k, nf, exp)
  bh_cnt(P, nf, 1)
  if exp > 0 then redis.call('ZADD', P .. 'supexp', exp, nf .. '\t' .. k) end
end
