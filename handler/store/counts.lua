-- counts.lua - prune up to max due members of {p}:supexp at time now, then, when none is left
-- due, return the counter hash: {0} (call again: more are due) or {1, HGETALL}
-- (store/counts.c; calling convention: counts.args).
-- @msg@
local P = string.sub(k_supcount, 1, #k_supcount - 8)
if bh_prune(P, now, max) >= max then return {0} end
return {1, redis.call('HGETALL', k_supcount)}
