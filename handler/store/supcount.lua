-- supcount.lua - current totals of suppressions (docs/redis.md, "Suppression counters"), kept
-- by the apply and manual scripts so that `bouncer stats` reads one hash instead of walking
-- every suppression (cmake/store_proto.cmake puts this first in apply, manual and counts):
--   {p}:supcount  hash  "LIST\tREASON" -> suppressions held now (LIST "-": global scope);
--                       "_complete": when `stats --recount` built it (absent: stats scans)
--   {p}:supexp    zset  "LIST\tREASON\tKEY" of every time-limited suppression, scored by its
--                       expiry (epoch seconds)
-- A suppression that expires by TTL leaves its member behind: bh_prune (every script runs it
-- first, for a few members; stats runs it until none is due) takes due members off and
-- decrements their field, unless KEY still holds a suppression counted under that field (then
-- the member is re-scored by the key's TTL, or dropped when the key no longer expires). Before
-- a suppression key is written or deleted, bh_sup_old uncounts what it held (or its expired
-- twin still in the zset), bh_sup_new counts what it holds now. P is "{prefix}:", taken from a
-- key of the script's KEYS: both keys share the hash slot of every other key. Numbers handed to
-- redis.call go as strings where they can (now, max, d: a Lua number there costs a "%.17g").
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
  local due = redis.call('ZRANGEBYSCORE', P .. 'supexp', '-inf', now, 'LIMIT', '0', max)
  for _, m in ipairs(due) do
    local f, k = string.match(m, '^(.*)\t([^\t]*)$')
    redis.call('ZREM', P .. 'supexp', m)
    local o = redis.call('HMGET', k, 'list', 'reason')
    if o[2] and bh_field(o[1], o[2]) == f then
      local ttl = redis.call('TTL', k)
      if ttl > 0 then redis.call('ZADD', P .. 'supexp', now + ttl, m) end
    else
      bh_cnt(P, f, '-1')
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
    bh_cnt(P, of, '-1'); redis.call('ZREM', P .. 'supexp', of .. '\t' .. k)
  end
end
local function bh_sup_new(P, k, nf, exp)
  bh_cnt(P, nf, '1')
  if exp > 0 then redis.call('ZADD', P .. 'supexp', exp, nf .. '\t' .. k) end
end
