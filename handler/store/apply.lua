-- apply.lua - apply one classified message (store/apply.c; calling convention: apply.args,
-- whose unpacking replaces the msg and dec marker lines). Atomic and idempotent: a message
-- whose applied marker exists changes nothing. A message is applied only while the lease key
-- holds the worker's token (no token: no lease).
--
-- Repetition (docs/loops.md): a message whose recipient already bounced the same sent message
-- within the repeat window, at least as strongly (a count after a count or a suppression, a
-- suppression after a suppression), is a "repeat": its counting and suppressing decisions
-- become refuse (or alert), nothing is counted, its events say loop=repeat. A list with more
-- failures within the burst window than list_burst.max or {p}:mailed:LIST holds its new
-- suppressions: not written, listed in {p}:held:LIST, one alert per window.
--
-- Cost (bench/store.sh): numbers go to redis.call as the strings they came as (now_s, the
-- generated *_s of every num argument, the *_S constants) rather than as Lua numbers, which
-- Redis formats with "%.17g" on every call; the message's common fields are read through one
-- map; the stats bucket's TTL is set once (EXPIRE NX), so that it is not a write to propagate
-- on every message.
-- @msg@
if token ~= '' and redis.call('GET', k_lease) ~= token then
  return {'lease_lost', '', 0, 0, '', 0}
end
if redis.call('EXISTS', k_applied) == 1 then
  local m = redis.call('HMGET', k_applied, 'first_event', 'loop')
  return {'duplicate', m[1] or '', 0, 0, m[2] or '', 0}
end
local P = string.sub(k_events, 1, #k_events - 6)
bh_prune(P, now_s, SUPCOUNT_PRUNE_S)
local function setf(t, k, v)
  for i = 1, #t, 2 do if t[i] == k then t[i + 1] = v; return end end
  t[#t + 1] = k; t[#t + 1] = v
end
-- the fields every event of the message carries, by name (the last of a name wins)
local cm = {}
for i = 1, #common, 2 do cm[common[i]] = common[i + 1] end
-- the stable id and where the message sits
local sid = cm.stable_id or ''
local loc = {cm.mailbox or '', cm.folder or '', cm.uidvalidity or '', cm.uid or ''}
local held, bcount, bceil, balert = false, 0, -1, false
if strength > 0 and bwin > 0 then
  redis.call('ZADD', k_burst, now_s, sid)
  redis.call('ZREMRANGEBYSCORE', k_burst, '-inf', '(' .. (now - bwin))
  redis.call('EXPIRE', k_burst, bwin_s)
  bcount = redis.call('ZCARD', k_burst)
  local mailed = tonumber(redis.call('GET', k_mailed) or '')
  if mailed and mailed >= 0 then bceil = mailed end
  if bmax > 0 and (bceil < 0 or bmax < bceil) then bceil = bmax end
  if bceil >= 0 and bcount > bceil then
    held = true
    if redis.call('SET', k_balert, now_s, 'NX', 'EX', bwin_s) then balert = true end
  end
end
local rep, rn, rfirst = false, 0, ''
if strength > 0 and rwin > 0 then
  local m = redis.call('HMGET', k_rpt, 'strength', 'first')
  local prev = m[1]
  if not prev then
    rn = 1
    redis.call('HSET', k_rpt, 'strength', strength_s, 'first', sid, 'n', '1')
    redis.call('EXPIRE', k_rpt, rwin_s)
  else
    rn = redis.call('HINCRBY', k_rpt, 'n', '1')
    rfirst = m[2] or ''
    if tonumber(prev) >= strength then rep = true
    else redis.call('HSET', k_rpt, 'strength', strength_s) end
  end
end
if rep then
  setf(common, 'loop', 'repeat'); setf(common, 'folder', loop_folder); loc[2] = loop_folder
  cm.loop = 'repeat'
end
local loopkind = cm.loop or ''
-- xadd - one event: fields (a table of the script's own, extended here), then the common ones
local function xadd(fields)
  for i = 1, #common do fields[#fields + 1] = common[i] end
  return redis.call('XADD', k_events, 'MAXLEN', '~', maxlen, '*', unpack(fields))
end
-- sender_rate - count this message in a sender-side window (k, scored by time) and raise one
-- alert per window (marker) once it holds the threshold: 1 when it raised one, else 0
local function sender_rate(field, value, k, marker, cause)
  redis.call('ZADD', k, now_s, sid)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. (now - awin))
  redis.call('EXPIRE', k, awin_s)
  local c = redis.call('ZCARD', k)
  if c < athr or not redis.call('SET', marker, now_s, 'NX', 'EX', awin_s) then return 0 end
  xadd({'kind', 'alert', 'alert', 'sender_rate', field, value, 'count', tostring(c), 'threshold', athr_s, 'window_s', awin_s, 'cause', cause})
  return 1
end
local first, nsup, nalert, nheld = '', 0, 0, 0
for d = 0, nd - 1 do
  -- @dec@
  if rep then
    if outcome == 'suppress' or outcome == 'count' then
      if rpol == 'alert' then outcome = 'alert' else outcome = 'refuse' end
      setf(ev, 'outcome', outcome)
      setf(ev, 'why', 'repeat: bounce ' .. rn .. ' about one sent message')
    end
    setf(ev, 'repeat', tostring(rn)); setf(ev, 'repeat_of', rfirst)
    sfield = ((list ~= '') and list or '-') .. '\tloop:repeat'
  end
  local result = outcome
  local suppress = (outcome == 'suppress') and addr ~= ''
  if outcome == 'count' and addr ~= '' and thr > 0 and win > 0 then
    redis.call('ZADD', k_soft, now_s, sid)
    redis.call('ZREMRANGEBYSCORE', k_soft, '-inf', '(' .. (now - win))
    redis.call('EXPIRE', k_soft, win_s)
    local c = redis.call('ZCARD', k_soft)
    result = 'counted ' .. c .. '/' .. thr
    if c >= thr then suppress = true end
  end
  local expires, sh = 0, nil
  if suppress and held then
    suppress = false
    result = (outcome == 'count') and (result .. ' held') or 'held'
    ev[#ev + 1] = 'held'; ev[#ev + 1] = 'list_burst ' .. bcount .. '>' .. bceil
    redis.call('ZADD', k_held, now_s, addr)
    redis.call('EXPIRE', k_held, HELD_TTL_S)
    redis.call('HINCRBY', k_stats, sfield .. '\theld', '1')
    nheld = nheld + 1
  end
  if suppress then
    local ttl = redis.call('TTL', k_sup)
    -- the suppression's fields, from the event's (before a repeat changes them: a repeat
    -- never suppresses) and the message's
    local em = {}
    for i = 1, #ev, 2 do if em[ev[i]] == nil then em[ev[i]] = ev[i + 1] end end
    local supf = {'address', addr, 'list', (scope == 'global') and '' or list,
      'reason', em.reason or '', 'class', em.class or '', 'source', 'bounce',
      'why', em.why or '', 'message_id', cm.message_id or '', 'stable_id', sid,
      'status', em.status or '', 'rule', em.rule or ''}
    local nf = bh_field_of(supf); bh_sup_old(P, k_sup, nf)
    redis.call('HSETNX', k_sup, 'first_seen', now_s)
    redis.call('HINCRBY', k_sup, 'count', '1')
    sh = {'HSET', k_sup, 'last_seen', now_s}
    for i = 1, #supf do sh[#sh + 1] = supf[i] end
    if ttl == -1 then
      expires = 0
    elseif duration == 0 then
      redis.call('PERSIST', k_sup)
    elseif ttl >= duration then
      expires = now + ttl
    else
      redis.call('EXPIRE', k_sup, duration_s); expires = now + duration
    end
    sh[#sh + 1] = 'expires'; sh[#sh + 1] = expires
    bh_sup_new(P, k_sup, nf, expires)
    if list ~= '' and scope == 'list' then
      redis.call('SADD', k_idx, list)
      local it = redis.call('TTL', k_idx)
      if expires == 0 then redis.call('PERSIST', k_idx)
      elseif it ~= -1 and it < expires - now then redis.call('EXPIRE', k_idx, expires - now) end
    end
    redis.call('DEL', k_soft)
    if outcome == 'count' then result = result .. ' suppressed' else result = 'suppressed' end
    nsup = nsup + 1
    redis.call('HINCRBY', k_stats, sfield .. '\tsuppressed', '1')
  end
  ev[#ev + 1] = 'result'; ev[#ev + 1] = result
  if suppress then ev[#ev + 1] = 'expires'; ev[#ev + 1] = tostring(expires) end
  local id = xadd(ev)
  if first == '' then first = id end
  if suppress then
    sh[#sh + 1] = 'event'; sh[#sh + 1] = id
    redis.call(unpack(sh))
  end
  if addr ~= '' then
    if redis.call('LPUSH', k_ev, id) > ADDR_EVENTS_LAST + 1 then
      redis.call('LTRIM', k_ev, '0', ADDR_EVENTS_LAST_S)
    end
    redis.call('EXPIRE', k_ev, ADDR_EVENTS_TTL_S)
  end
  redis.call('HINCRBY', k_stats, sfield .. '\t' .. outcome, '1')
  if outcome == 'alert' and sender ~= '1' then
    xadd({'kind', 'alert', 'alert', (loopkind ~= '') and 'loop' or 'policy', 'address', addr, 'list', list, 'cause', id})
    nalert = nalert + 1
  end
  if sender == '1' and athr > 0 and awin > 0 then
    if domain ~= '' then nalert = nalert + sender_rate('domain', domain, k_sd, k_ad, id) end
    if list ~= '' then nalert = nalert + sender_rate('list', list, k_sl, k_al, id) end
  end
end
if rep and ralert > 0 and rn == ralert then
  xadd({'kind', 'alert', 'alert', 'repeat', 'count', tostring(rn), 'threshold', tostring(ralert), 'window_s', tostring(rwin), 'repeat_of', rfirst, 'cause', first})
  nalert = nalert + 1
end
if balert then
  xadd({'kind', 'alert', 'alert', 'list_burst', 'count', tostring(bcount), 'threshold', tostring(bceil), 'window_s', tostring(bwin), 'cause', first})
  nalert = nalert + 1
end
if loopkind ~= '' then
  redis.call('HINCRBY', k_stats, '*\tloop:' .. loopkind .. '\tmessages', '1')
end
-- the bucket lives STATS_TTL from its first count (a 5-minute bucket: at most 5 minutes less
-- than from its last), set once rather than renewed by every message
redis.call('EXPIRE', k_stats, STATS_TTL_S, 'NX')
redis.call('HSET', k_applied, 'first_event', first, 'at', now_s, 'decisions', nd_s, 'mailbox', loc[1], 'folder', loc[2], 'uidvalidity', loc[3], 'uid', loc[4], 'loop', loopkind)
redis.call('EXPIRE', k_applied, APPLIED_TTL_S)
return {'applied', first, nsup, nalert, rep and 'repeat' or '', nheld}
