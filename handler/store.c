/*
 * store.c - suppression state, counters and the audit event stream in Redis.
 *
 * The only module that includes hiredis. It trusts Redis to answer in RESP2 but checks the shape
 * of every reply it reads; it trusts the verdict and decisions it is handed (built by our own
 * parser and policy) but cuts untrusted text (diagnostics) to BH_MAX_DIAGNOSTIC before it goes
 * into an event. The key schema is docs/redis.md: every key starts with the
 * hash tag "{prefix}" so that one Lua script only ever touches one Redis Cluster slot.
 *
 * A hiredis context that returned an error is dead: it is dropped, and the next connection
 * attempt waits for an exponential backoff (100 ms doubling to 30 s).
 *
 * Scale-out (docs/scale-out.md): with redis.sentinels every connection first asks the sentinels
 * (each in turn, after AUTH with redis.sentinel_password when set) for the master's address and
 * checks with ROLE that it is one; a READONLY, MASTERDOWN or LOADING reply drops the connection
 * so that the next one asks again. On Redis Cluster a new connection sends one keyed command and
 * follows a MOVED reply to the node that owns the slot of "{prefix}" (every key is in that slot). A
 * mailbox lease (bh_store_lease()) lets one worker per mailbox apply: the apply script refuses a
 * message when the lease key does not hold the worker's token (fencing: a paused ex-holder cannot
 * write).
 */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "addr.h"
#include "bh_limits.h"
#include "util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define STATS_BUCKET_S 300
#define STATS_TTL_S    (26 * 3600)
#define SCAN_COUNT     500
#define DECISION_KEYS  8
#define MESSAGE_KEYS   8
#define HELD_TTL       "2592000" /* {p}:held:LIST: 30 days after its last addition */
#define MAX_EXPLAIN    1000
#define STR_(x)	       #x
#define STR(x)	       STR_(x)
/* The address event index: its last index (BH_STORE_ADDR_EVENTS - 1) and its TTL (400 days,
 * renewed by every event: an address quiet for that long keeps only its suppression hash). */
#define ADDR_EVENTS_LAST "99"
#define ADDR_EVENTS_TTL	 "34560000"
_Static_assert(BH_STORE_ADDR_EVENTS == 100, "ADDR_EVENTS_LAST must be BH_STORE_ADDR_EVENTS - 1");

/*
 * Current totals of suppressions (docs/redis.md, "Suppression counters"), kept by the apply and
 * manual scripts so that `bouncer stats` reads one hash instead of walking every suppression:
 *   {p}:supcount  hash  "LIST\tREASON" -> suppressions held now (LIST "-": global scope);
 *                       "_complete": when `stats --recount` built it (absent: stats scans)
 *   {p}:supexp    zset  "LIST\tREASON\tKEY" of every time-limited suppression, scored by its
 *                       expiry (epoch seconds)
 * A suppression that expires by TTL leaves its member behind: bh_prune (every script runs it
 * first, for a few members; stats runs it until none is due) takes due members off and
 * decrements their field, unless KEY still holds a suppression counted under that field (then
 * the member is re-scored by the key's TTL, or dropped when the key no longer expires). Before
 * a suppression key is written or deleted, bh_sup_old uncounts what it held (or its expired
 * twin still in the zset), bh_sup_new counts what it holds now. P is "{prefix}:", taken from a
 * key of the script's KEYS: both keys share the hash slot of every other key.
 */
#define SUPCOUNT_LUA                                                                               \
	"local function bh_cnt(P, f, d)\n"                                                         \
	"  if redis.call('HINCRBY', P .. 'supcount', f, d) <= 0 then\n"                            \
	"    redis.call('HDEL', P .. 'supcount', f)\n"                                             \
	"  end\n"                                                                                  \
	"end\n"                                                                                    \
	"local function bh_field(l, r) return ((l and l ~= '') and l or '-') .. '\\t' .. r end\n"  \
	"local function bh_field_of(t)\n"                                                          \
	"  local l, r = '', '-'\n"                                                                 \
	"  for i = 1, #t, 2 do\n"                                                                  \
	"    if t[i] == 'list' then l = t[i + 1] elseif t[i] == 'reason' then r = t[i + 1] end\n"  \
	"  end\n"                                                                                  \
	"  return bh_field(l, r)\n"                                                                \
	"end\n"                                                                                    \
	"local function bh_prune(P, now, max)\n"                                                   \
	"  local due = redis.call('ZRANGEBYSCORE', P .. 'supexp', '-inf', now, 'LIMIT', 0, max)\n" \
	"  for _, m in ipairs(due) do\n"                                                           \
	"    local f, k = string.match(m, '^(.*)\\t([^\\t]*)$')\n"                                 \
	"    redis.call('ZREM', P .. 'supexp', m)\n"                                               \
	"    local o = redis.call('HMGET', k, 'list', 'reason')\n"                                 \
	"    if o[2] and bh_field(o[1], o[2]) == f then\n"                                         \
	"      local ttl = redis.call('TTL', k)\n"                                                 \
	"      if ttl > 0 then redis.call('ZADD', P .. 'supexp', now + ttl, m) end\n"              \
	"    else\n"                                                                               \
	"      bh_cnt(P, f, -1)\n"                                                                 \
	"    end\n"                                                                                \
	"  end\n"                                                                                  \
	"  return #due\n"                                                                          \
	"end\n"                                                                                    \
	"local function bh_sup_old(P, k, nf)\n"                                                    \
	"  local o = redis.call('HMGET', k, 'list', 'reason')\n"                                   \
	"  local of = o[2] and bh_field(o[1], o[2])\n"                                             \
	"  if not of and nf and redis.call('ZSCORE', P .. 'supexp', nf .. '\\t' .. k) then\n"      \
	"    of = nf\n"                                                                            \
	"  end\n"                                                                                  \
	"  if of then\n"                                                                           \
	"    bh_cnt(P, of, -1); redis.call('ZREM', P .. 'supexp', of .. '\\t' .. k)\n"             \
	"  end\n"                                                                                  \
	"end\n"                                                                                    \
	"local function bh_sup_new(P, k, nf, exp)\n"                                               \
	"  bh_cnt(P, nf, 1)\n"                                                                     \
	"  if exp > 0 then redis.call('ZADD', P .. 'supexp', exp, nf .. '\\t' .. k) end\n"         \
	"end\n"
/* Members bh_prune takes off per apply or manual change (stats prunes the rest). */
#define SUPCOUNT_PRUNE "100"

/*
 * The apply script. One call applies one message.
 * KEYS[1] applied marker (hash), KEYS[2] event stream, KEYS[3] stats bucket, then the message's
 * MESSAGE_KEYS - 3 repetition keys: repeat hash (this recipient and sent message), list burst
 * zset, the sender's mailed count, held zset, burst alert marker; then per decision
 * DECISION_KEYS keys: suppression, soft zset, address event index, address list index,
 * sender-per-domain zset, sender-per-list zset, domain alert marker, list alert marker. Keys
 * that do not apply (no address, no list) are "{p}:-" and never touched.
 * ARGV: now, applied ttl, stream maxlen, decisions, stats ttl, location (mailbox, folder,
 * uidvalidity, uid), the folder of a repeat, strength (0 nothing to repeat, 1 count, 2
 * suppress), repeat window, repeat alert, loops.repeat policy, burst max, burst window, stable
 * id, then the common event fields (count, pairs), then per decision 13 control values, the
 * suppression fields (count, pairs) and the event fields (count, pairs).
 *
 * Repetition (docs/loops.md): a message whose recipient already bounced the
 * same sent message within the repeat window, at least as strongly (a count after a count or a
 * suppression, a suppression after a suppression), is a "repeat": its counting and suppressing
 * decisions become refuse (or alert), nothing is counted, its events say loop=repeat. A list
 * with more failures within the burst window than list_burst.max or {p}:mailed:LIST holds its
 * new suppressions: not written, listed in {p}:held:LIST, one alert per window.
 * The LAST key is the mailbox lease and the LAST argument the worker's token ("" and "{p}:-":
 * no lease): a message is applied only while the lease holds that token.
 */
/* clang-format off */
static const char apply_lua[] = SUPCOUNT_LUA
	"local now = tonumber(ARGV[1])\n"
	"if ARGV[#ARGV] ~= '' and redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then\n"
	"  return {'lease_lost', '', 0, 0, '', 0}\n"
	"end\n"
	"if redis.call('EXISTS', KEYS[1]) == 1 then\n"
	"  local m = redis.call('HMGET', KEYS[1], 'first_event', 'loop')\n"
	"  return {'duplicate', m[1] or '', 0, 0, m[2] or '', 0}\n"
	"end\n"
	"local P = string.sub(KEYS[2], 1, #KEYS[2] - 6)\n" /* "{p}:events" */
	"bh_prune(P, now, " SUPCOUNT_PRUNE ")\n"
	"local maxlen = ARGV[3]\n"
	"local nd = tonumber(ARGV[4])\n"
	"local stats_ttl = ARGV[5]\n"
	"local loc = {ARGV[6], ARGV[7], ARGV[8], ARGV[9]}\n"
	"local strength, rwin = tonumber(ARGV[11]), tonumber(ARGV[12])\n"
	"local ralert, rpol = tonumber(ARGV[13]), ARGV[14]\n"
	"local bmax, bwin, sid = tonumber(ARGV[15]), tonumber(ARGV[16]), ARGV[17]\n"
	"local pos = 18\n"
	"local function setf(t, k, v)\n"
	"  for i = 1, #t, 2 do if t[i] == k then t[i + 1] = v; return end end\n"
	"  t[#t + 1] = k; t[#t + 1] = v\n"
	"end\n"
	"local function take()\n"
	"  local n = tonumber(ARGV[pos]); pos = pos + 1\n"
	"  local t = {}\n"
	"  for i = 1, n * 2 do t[i] = ARGV[pos]; pos = pos + 1 end\n"
	"  return t\n"
	"end\n"
	"local common = take()\n"
	"local held, bcount, bceil, balert = false, 0, -1, false\n"
	"if strength > 0 and bwin > 0 then\n"
	"  redis.call('ZADD', KEYS[5], now, sid)\n"
	"  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. (now - bwin))\n"
	"  redis.call('EXPIRE', KEYS[5], bwin)\n"
	"  bcount = redis.call('ZCARD', KEYS[5])\n"
	"  local mailed = tonumber(redis.call('GET', KEYS[6]) or '')\n"
	"  if mailed and mailed >= 0 then bceil = mailed end\n"
	"  if bmax > 0 and (bceil < 0 or bmax < bceil) then bceil = bmax end\n"
	"  if bceil >= 0 and bcount > bceil then\n"
	"    held = true\n"
	"    if redis.call('SET', KEYS[8], now, 'NX', 'EX', bwin) then balert = true end\n"
	"  end\n"
	"end\n"
	"local rep, rn, rfirst = false, 0, ''\n"
	"if strength > 0 and rwin > 0 then\n"
	"  local m = redis.call('HMGET', KEYS[4], 'strength', 'first')\n"
	"  local prev = m[1]\n"
	"  if not prev then\n"
	"    rn = 1\n"
	"    redis.call('HSET', KEYS[4], 'strength', strength, 'first', sid, 'n', 1)\n"
	"    redis.call('EXPIRE', KEYS[4], rwin)\n"
	"  else\n"
	"    rn = redis.call('HINCRBY', KEYS[4], 'n', 1)\n"
	"    rfirst = m[2] or ''\n"
	"    if tonumber(prev) >= strength then rep = true\n"
	"    else redis.call('HSET', KEYS[4], 'strength', strength) end\n"
	"  end\n"
	"end\n"
	"if rep then\n"
	"  setf(common, 'loop', 'repeat'); setf(common, 'folder', ARGV[10]); loc[2] = ARGV[10]\n"
	"end\n"
	"local loopkind = ''\n"
	"for i = 1, #common, 2 do if common[i] == 'loop' then loopkind = common[i + 1] end end\n"
	"local function xadd(fields)\n"
	"  local a = {'XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*'}\n"
	"  for i = 1, #fields do a[#a + 1] = fields[i] end\n"
	"  for i = 1, #common do a[#a + 1] = common[i] end\n"
	"  return redis.call(unpack(a))\n"
	"end\n"
	"local function rate(k, marker, member, thr, win)\n"
	"  redis.call('ZADD', k, now, member)\n"
	"  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. (now - win))\n"
	"  redis.call('EXPIRE', k, win)\n"
	"  local c = redis.call('ZCARD', k)\n"
	"  if c >= thr and redis.call('SET', marker, now, 'NX', 'EX', win) then return c end\n"
	"  return nil\n"
	"end\n"
	"local first, nsup, nalert, nheld = '', 0, 0, 0\n"
	"for d = 0, nd - 1 do\n"
	"  local kb = 8 + d * 8\n"
	"  local ksup, ksoft, kev, kidx = KEYS[kb + 1], KEYS[kb + 2], KEYS[kb + 3], KEYS[kb + 4]\n"
	"  local ksd, ksl, kad, kal = KEYS[kb + 5], KEYS[kb + 6], KEYS[kb + 7], KEYS[kb + 8]\n"
	"  local outcome, duration = ARGV[pos], tonumber(ARGV[pos + 1])\n"
	"  local thr, win = tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3])\n"
	"  local sender, athr, awin = ARGV[pos + 4], tonumber(ARGV[pos + 5]), "
	"tonumber(ARGV[pos + 6])\n"
	"  local addr, list, domain = ARGV[pos + 7], ARGV[pos + 8], ARGV[pos + 9]\n"
	"  local member, scope, sfield = ARGV[pos + 10], ARGV[pos + 11], ARGV[pos + 12]\n"
	"  pos = pos + 13\n"
	"  local supf = take()\n"
	"  local ev = take()\n"
	"  if rep then\n"
	"    if outcome == 'suppress' or outcome == 'count' then\n"
	"      if rpol == 'alert' then outcome = 'alert' else outcome = 'refuse' end\n"
	"      setf(ev, 'outcome', outcome)\n"
	"      setf(ev, 'why', 'repeat: bounce ' .. rn .. ' about one sent message')\n"
	"    end\n"
	"    setf(ev, 'repeat', tostring(rn)); setf(ev, 'repeat_of', rfirst)\n"
	"    sfield = ((list ~= '') and list or '-') .. '\\tloop:repeat'\n"
	"  end\n"
	"  local result = outcome\n"
	"  local suppress = (outcome == 'suppress') and addr ~= ''\n"
	"  if outcome == 'count' and addr ~= '' and thr > 0 and win > 0 then\n"
	"    redis.call('ZADD', ksoft, now, member)\n"
	"    redis.call('ZREMRANGEBYSCORE', ksoft, '-inf', '(' .. (now - win))\n"
	"    redis.call('EXPIRE', ksoft, win)\n"
	"    local c = redis.call('ZCARD', ksoft)\n"
	"    result = 'counted ' .. c .. '/' .. thr\n"
	"    if c >= thr then suppress = true end\n"
	"  end\n"
	"  local expires, sh = 0, nil\n"
	"  if suppress and held then\n"
	"    suppress = false\n"
	"    result = (outcome == 'count') and (result .. ' held') or 'held'\n"
	"    ev[#ev + 1] = 'held'; ev[#ev + 1] = 'list_burst ' .. bcount .. '>' .. bceil\n"
	"    redis.call('ZADD', KEYS[7], now, addr)\n"
	"    redis.call('EXPIRE', KEYS[7], " HELD_TTL ")\n"
	"    redis.call('HINCRBY', KEYS[3], sfield .. '\\theld', 1)\n"
	"    nheld = nheld + 1\n"
	"  end\n"
	"  if suppress then\n"
	"    local ttl = redis.call('TTL', ksup)\n"
	"    local nf = bh_field_of(supf); bh_sup_old(P, ksup, nf)\n"
	"    redis.call('HSETNX', ksup, 'first_seen', now)\n"
	"    redis.call('HINCRBY', ksup, 'count', 1)\n"
	"    sh = {'HSET', ksup, 'last_seen', now}\n"
	"    for i = 1, #supf do sh[#sh + 1] = supf[i] end\n"
	"    if ttl == -1 then\n"
	"      expires = 0\n"
	"    elseif duration == 0 then\n"
	"      redis.call('PERSIST', ksup)\n"
	"    elseif ttl >= duration then\n"
	"      expires = now + ttl\n"
	"    else\n"
	"      redis.call('EXPIRE', ksup, duration); expires = now + duration\n"
	"    end\n"
	"    sh[#sh + 1] = 'expires'; sh[#sh + 1] = expires\n"
	"    bh_sup_new(P, ksup, nf, expires)\n"
	"    if list ~= '' and scope == 'list' then\n"
	"      redis.call('SADD', kidx, list)\n"
	"      local it = redis.call('TTL', kidx)\n"
	"      if expires == 0 then redis.call('PERSIST', kidx)\n"
	"      elseif it ~= -1 and it < expires - now then redis.call('EXPIRE', kidx, expires - now) "
	"end\n"
	"    end\n"
	"    redis.call('DEL', ksoft)\n"
	"    if outcome == 'count' then result = result .. ' suppressed' else result = 'suppressed' "
	"end\n"
	"    nsup = nsup + 1\n"
	"    redis.call('HINCRBY', KEYS[3], sfield .. '\\tsuppressed', 1)\n"
	"  end\n"
	"  ev[#ev + 1] = 'result'; ev[#ev + 1] = result\n"
	"  if suppress then ev[#ev + 1] = 'expires'; ev[#ev + 1] = tostring(expires) end\n"
	"  local id = xadd(ev)\n"
	"  if first == '' then first = id end\n"
	"  if suppress then\n"
	"    sh[#sh + 1] = 'event'; sh[#sh + 1] = id\n"
	"    redis.call(unpack(sh))\n"
	"  end\n"
	"  if addr ~= '' then\n"
	"    if redis.call('LPUSH', kev, id) > " ADDR_EVENTS_LAST " + 1 then\n"
	"      redis.call('LTRIM', kev, 0, " ADDR_EVENTS_LAST ")\n"
	"    end\n"
	"    redis.call('EXPIRE', kev, " ADDR_EVENTS_TTL ")\n"
	"  end\n"
	"  redis.call('HINCRBY', KEYS[3], sfield .. '\\t' .. outcome, 1)\n"
	"  if outcome == 'alert' and sender ~= '1' then\n"
	"    xadd({'kind', 'alert', 'alert', (loopkind ~= '') and 'loop' or 'policy', "
	"'address', addr, 'list', list, 'cause', id})\n"
	"    nalert = nalert + 1\n"
	"  end\n"
	"  if sender == '1' and athr > 0 and awin > 0 then\n"
	"    if domain ~= '' then\n"
	"      local c = rate(ksd, kad, member, athr, awin)\n"
	"      if c then\n"
	"        xadd({'kind', 'alert', 'alert', 'sender_rate', 'domain', "
	"domain, 'count', "
	"tostring(c), 'threshold', tostring(athr), 'window_s', "
	"tostring(awin), 'cause', id})\n"
	"        nalert = nalert + 1\n"
	"      end\n"
	"    end\n"
	"    if list ~= '' then\n"
	"      local c = rate(ksl, kal, member, athr, awin)\n"
	"      if c then\n"
	"        xadd({'kind', 'alert', 'alert', 'sender_rate', 'list', "
	"list, 'count', "
	"tostring(c), 'threshold', tostring(athr), 'window_s', "
	"tostring(awin), 'cause', id})\n"
	"        nalert = nalert + 1\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if rep and ralert > 0 and rn == ralert then\n"
	"  xadd({'kind', 'alert', 'alert', 'repeat', 'count', tostring(rn), 'threshold', "
	"tostring(ralert), 'window_s', tostring(rwin), 'repeat_of', rfirst, 'cause', first})\n"
	"  nalert = nalert + 1\n"
	"end\n"
	"if balert then\n"
	"  xadd({'kind', 'alert', 'alert', 'list_burst', 'count', tostring(bcount), "
	"'threshold', tostring(bceil), 'window_s', tostring(bwin), 'cause', first})\n"
	"  nalert = nalert + 1\n"
	"end\n"
	"if loopkind ~= '' then\n"
	"  redis.call('HINCRBY', KEYS[3], '*\\tloop:' .. loopkind .. '\\tmessages', 1)\n"
	"end\n"
	"redis.call('EXPIRE', KEYS[3], stats_ttl)\n"
	"redis.call('HSET', KEYS[1], 'first_event', first, 'at', now, "
	"'decisions', nd, "
	"'mailbox', loc[1], 'folder', loc[2], 'uidvalidity', loc[3], 'uid', "
	"loc[4], 'loop', loopkind)\n"
	"redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	"return {'applied', first, nsup, nalert, rep and 'repeat' or '', nheld}\n";
/* clang-format on */

/*
 * The manual script: an operator's add or remove, with its event.
 * KEYS: suppression, soft zset (cleared), address event index, address list index, stream,
 * stats bucket. ARGV: op ("add", "remove", "import": add unless the key exists), now, maxlen,
 * duration, list ("" global), stats ttl, stats field,
 * suppression fields (count, pairs), event fields (count, pairs).
 */
/* clang-format off */
static const char manual_lua[] = SUPCOUNT_LUA
	"local op, now, maxlen = ARGV[1], tonumber(ARGV[2]), ARGV[3]\n"
	"local P = string.sub(KEYS[5], 1, #KEYS[5] - 6)\n" /* "{p}:events" */
	"bh_prune(P, now, " SUPCOUNT_PRUNE ")\n"
	"local duration, list = tonumber(ARGV[4]), ARGV[5]\n"
	"local pos = 8\n"
	"local function take()\n"
	"  local n = tonumber(ARGV[pos]); pos = pos + 1\n"
	"  local t = {}\n"
	"  for i = 1, n * 2 do t[i] = ARGV[pos]; pos = pos + 1 end\n"
	"  return t\n"
	"end\n"
	"local supf = take()\n"
	"local ev = take()\n"
	"local changed = 0\n"
	"local expires = 0\n"
	"if op == 'import' then\n" /* an import adds only what is not suppressed yet */
	"  if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ''} end\n"
	"  op = 'add'\n"
	"end\n"
	"if op == 'add' then\n"
	"  local nf = bh_field_of(supf); bh_sup_old(P, KEYS[1], nf)\n"
	"  redis.call('HSETNX', KEYS[1], 'first_seen', now)\n"
	"  redis.call('HINCRBY', KEYS[1], 'count', 1)\n"
	"  local h = {'HSET', KEYS[1], 'last_seen', now}\n"
	"  for i = 1, #supf do h[#h + 1] = supf[i] end\n"
	"  redis.call(unpack(h))\n"
	"  if duration == 0 then redis.call('PERSIST', KEYS[1])\n"
	"  else redis.call('EXPIRE', KEYS[1], duration); expires = now + duration end\n"
	"  redis.call('HSET', KEYS[1], 'expires', expires)\n"
	"  bh_sup_new(P, KEYS[1], nf, expires)\n"
	"  if list ~= '' then\n"
	"    redis.call('SADD', KEYS[4], list)\n"
	"    local it = redis.call('TTL', KEYS[4])\n"
	"    if expires == 0 then redis.call('PERSIST', KEYS[4])\n"
	"    elseif it ~= -1 and it < duration then redis.call('EXPIRE', KEYS[4], duration) end\n"
	"  end\n"
	"  changed = 1\n"
	"  ev[#ev + 1] = 'expires'; ev[#ev + 1] = tostring(expires)\n"
	"else\n"
	"  local was = redis.call('HGET', KEYS[1], 'reason')\n"
	"  bh_sup_old(P, KEYS[1], nil)\n"
	"  changed = redis.call('DEL', KEYS[1])\n"
	"  redis.call('DEL', KEYS[2])\n"
	"  if list ~= '' then redis.call('SREM', KEYS[4], list) end\n"
	"  ev[#ev + 1] = 'result'; ev[#ev + 1] = (changed == 1) and 'removed' or 'not suppressed'\n"
	"  if was then ev[#ev + 1] = 'was'; ev[#ev + 1] = was end\n"
	"end\n"
	"local a = {'XADD', KEYS[5], 'MAXLEN', '~', maxlen, '*'}\n"
	"for i = 1, #ev do a[#a + 1] = ev[i] end\n"
	"local id = redis.call(unpack(a))\n"
	"if op == 'add' then redis.call('HSET', KEYS[1], 'event', id) end\n"
	"redis.call('LPUSH', KEYS[3], id)\n"
	"redis.call('LTRIM', KEYS[3], 0, " ADDR_EVENTS_LAST ")\n"
	"redis.call('EXPIRE', KEYS[3], " ADDR_EVENTS_TTL ")\n"
	"redis.call('HINCRBY', KEYS[6], ARGV[7], 1)\n"
	"redis.call('EXPIRE', KEYS[6], ARGV[6])\n"
	"return {changed, id}\n";
/* clang-format on */

/*
 * The lease script: take the lease when free, renew it when ours, else report its holder.
 * KEYS[1] lease; ARGV: token, ttl ms, op ("take" or "drop"). Returns {1, ""} held (taken or
 * renewed), {0, holder, pttl} held by another; for "drop" {1} released or {0} not ours.
 */
/* clang-format off */
static const char lease_lua[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"if ARGV[3] == 'drop' then\n"
	"  if v == ARGV[1] then redis.call('DEL', KEYS[1]); return {1, ''} end\n"
	"  return {0, v or ''}\n"
	"end\n"
	"if v == ARGV[1] then\n"
	"  redis.call('PEXPIRE', KEYS[1], ARGV[2]); return {1, ''}\n"
	"end\n"
	"if not v then\n"
	"  redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]); return {1, ''}\n"
	"end\n"
	"return {0, v, redis.call('PTTL', KEYS[1])}\n";
/* clang-format on */

struct bh_store {
	const struct bh_config *cfg;
	const struct bh_redis_conf *rc;
	char *tag; /* "{prefix}" */
	char *rules_version;
	redisContext *ctx;
	char apply_sha[41];
	char manual_sha[41];
	char lease_sha[41];
	char *lease_key;   /* NULL: no lease (applies go through unfenced) */
	char *lease_token; /* random, with the host name and pid: GET shows the holder */
	char *moved_host;  /* a Cluster MOVED target for the next connection, NULL: none */
	int moved_port;
	char addr[300];	     /* "host:port" (or socket) of the current or last connection */
	bool lease_lost;     /* the apply script refused: the lease holds another token */
	char holder[256];    /* the other holder of the lease, last seen */
	int64_t next_try_ms; /* monotonic: no connection attempt before */
	int64_t backoff_ms;
	char err[512];	  /* the last error, for error_r */
	char **item_errs; /* per-item error texts since the last bh_store_apply_reset */
	size_t n_item_errs;
	/* a begun apply (bh_store_apply_begin) whose replies are not read yet */
	bool *pend_todo;  /* NULL: none */
	bool pend_sent;	  /* its commands went out on the current connection */
	bool pend_reused; /* that connection was kept from an earlier call */
};

/* A growing argument vector for a Redis command; every string is a copy, NUL-terminated, in
 * slabs the vector owns (an EVALSHA has a hundred arguments: one malloc each was a fifth of
 * the store's cost). */
struct args {
	char **v;
	size_t *len;
	size_t n, cap;
	char **slabs; /* the strings' memory, freed by args_deinit */
	size_t n_slabs, cap_slabs;
	char *room; /* free space left in the last slab */
	size_t room_len;
};

#define ARGS_SLAB 4096u

/* args_slab_keep - add slab to the slabs a frees */
static void
args_slab_keep(struct args *a, char *slab)
{
	if (a->n_slabs == a->cap_slabs) {
		a->cap_slabs = a->cap_slabs == 0 ? 8 : a->cap_slabs * 2;
		a->slabs = bh_reallocarray(a->slabs, a->cap_slabs, sizeof(*a->slabs));
	}
	a->slabs[a->n_slabs++] = slab;
}

/* args_addn - append a copy of p[0..n) */
static void
args_addn(struct args *a, const char *p, size_t n)
{
	char *dst;

	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 64 : a->cap * 2;
		a->v = bh_reallocarray(a->v, a->cap, sizeof(*a->v));
		a->len = bh_reallocarray(a->len, a->cap, sizeof(*a->len));
	}
	if (n >= a->room_len) {
		size_t size = n >= ARGS_SLAB ? n + 1 : ARGS_SLAB;

		dst = bh_malloc(size);
		args_slab_keep(a, dst);
		if (size == ARGS_SLAB) { /* (a large string has a slab of its own) */
			a->room = dst + n + 1;
			a->room_len = size - n - 1;
		}
	} else {
		dst = a->room;
		a->room += n + 1;
		a->room_len -= n + 1;
	}
	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
	a->v[a->n] = dst;
	a->len[a->n] = n;
	a->n++;
}

/* args_add - append a copy of a C string (NULL: "") */
static void
args_add(struct args *a, const char *s)
{
	if (s == NULL)
		s = "";
	args_addn(a, s, strlen(s));
}

/* args_addf - append a formatted string (one vsnprintf into a stack buffer when it fits: a
 * message's EVALSHA has dozens of these) */
BH_PRINTF(2, 3)
static void
args_addf(struct args *a, const char *fmt, ...)
{
	struct bh_buf b;
	char tmp[512];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k < 0)
		bh_fatal("vsnprintf failed for format %s", fmt);
	if ((size_t)k < sizeof(tmp)) {
		args_addn(a, tmp, (size_t)k);
		return;
	}
	bh_buf_init(&b);
	va_start(ap, fmt);
	bh_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	args_addn(a, b.data, b.len);
	bh_buf_deinit(&b);
}

/* args_append_to - write the command a as a RESP array of bulk strings (built in resp) into ctx
 * (what redisAppendCommandArgv writes, without its sdscatfmt per argument): 0 or -1 */
static int
args_append_to(redisContext *ctx, const struct args *a, struct bh_buf *resp)
{
	char num[32];
	size_t i;
	int k;

	resp->len = 0;
	k = snprintf(num, sizeof(num), "*%zu\r\n", a->n);
	bh_buf_append(resp, num, (size_t)k);
	for (i = 0; i < a->n; i++) {
		char *p = num + sizeof(num);
		size_t v = a->len[i];

		/* "$<len>\r\n", the digits written backwards */
		*--p = '\n';
		*--p = '\r';
		do
			*--p = (char)('0' + v % 10);
		while ((v /= 10) != 0);
		*--p = '$';
		bh_buf_reserve(resp, (size_t)(num + sizeof(num) - p) + a->len[i] + 2);
		memcpy(resp->data + resp->len, p, (size_t)(num + sizeof(num) - p));
		resp->len += (size_t)(num + sizeof(num) - p);
		memcpy(resp->data + resp->len, a->v[i], a->len[i]);
		resp->len += a->len[i];
		resp->data[resp->len++] = '\r';
		resp->data[resp->len++] = '\n';
	}
	return redisAppendFormattedCommand(ctx, resp->data, resp->len) == REDIS_OK ? 0 : -1;
}

/* args_cat - append every argument of src, moved, not copied: src is left empty */
static void
args_cat(struct args *dst, struct args *src)
{
	size_t i;

	if (dst->n + src->n > dst->cap) {
		while (dst->n + src->n > dst->cap)
			dst->cap = dst->cap == 0 ? 64 : dst->cap * 2;
		dst->v = bh_reallocarray(dst->v, dst->cap, sizeof(*dst->v));
		dst->len = bh_reallocarray(dst->len, dst->cap, sizeof(*dst->len));
	}
	for (i = 0; i < src->n; i++) {
		dst->v[dst->n] = src->v[i];
		dst->len[dst->n] = src->len[i];
		dst->n++;
	}
	/* the strings' slabs go with them; dst keeps writing into its own last slab */
	for (i = 0; i < src->n_slabs; i++)
		args_slab_keep(dst, src->slabs[i]);
	src->n = 0;
	src->n_slabs = 0;
	src->room = NULL;
	src->room_len = 0;
}

/* args_deinit - free every argument and the vectors; a is left empty, ready for reuse */
static void
args_deinit(struct args *a)
{
	size_t i;

	for (i = 0; i < a->n_slabs; i++)
		free(a->slabs[i]);
	free(a->slabs);
	free(a->v);
	free(a->len);
	memset(a, 0, sizeof(*a));
}

/* set_err - format the store's last error and point *error_r at it */
BH_PRINTF(3, 4)
static void
set_err(struct bh_store *s, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	if (error_r != NULL)
		*error_r = s->err;
}

/* drop - forget a dead connection and schedule the next attempt */
static void
drop(struct bh_store *s)
{
	if (s->ctx != NULL) {
		redisFree(s->ctx);
		s->ctx = NULL;
	}
	bh_free_str(&s->moved_host);
	s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_MIN_MS : s->backoff_ms * 2;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->next_try_ms = bh_mono_ms() + s->backoff_ms;
}

/* transport_err - record a transport error of the context, then drop it */
static void
transport_err(struct bh_store *s, const char **error_r, const char *what)
{
	set_err(s, error_r, "redis: %s: %s", what,
		s->ctx != NULL && s->ctx->errstr[0] != '\0' ? s->ctx->errstr : "connection lost");
	drop(s);
}

/* reresolve - leave a server that is not the one to write to (must_reresolve): reconnect at
 * once, to the MOVED target or to whatever the sentinels now name */
static void
reresolve(struct bh_store *s)
{
	if (s->ctx != NULL) {
		redisFree(s->ctx);
		s->ctx = NULL;
	}
	s->next_try_ms = 0;
}

static bool must_reresolve(struct bh_store *s, const redisReply *r);

/* command - run one command; NULL on a transport error (the context is then dropped). An error
 * reply is returned as a reply: the caller checks its type. A READONLY or MOVED reply (the
 * command did not run) is retried once on the right server. */
static redisReply *
command(struct bh_store *s, const struct args *a, const char **error_r)
{
	redisReply *r = NULL;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (bh_store_connect(s, error_r) == -1)
			return NULL;
		r = redisCommandArgv(s->ctx, (int)a->n, (const char **)a->v, a->len);
		if (r == NULL) {
			transport_err(s, error_r, a->v[0]);
			return NULL;
		}
		if (attempt > 0 || !must_reresolve(s, r))
			break;
		freeReplyObject(r);
		r = NULL;
		reresolve(s);
	}
	return r;
}

/* commandv - build and run a command from C strings (a (char *)NULL ends the list) */
static redisReply *
commandv(struct bh_store *s, const char **error_r, const char *first, ...)
{
	struct args a = {0};
	const char *p;
	redisReply *r;
	va_list ap;

	args_add(&a, first);
	va_start(ap, first);
	while ((p = va_arg(ap, const char *)) != NULL)
		args_add(&a, p);
	va_end(ap);
	r = command(s, &a, error_r);
	args_deinit(&a);
	return r;
}

#define PIPELINE_MAX_ARGS 4

/* pipeline_send - queue argv once per string element of keys, each NULL slot of argv replaced
 * by the element; nothing is read yet (pipeline_reply). Needs a live connection. The number of
 * commands queued, or -1 after a transport error (the connection is then dropped). */
static int64_t
pipeline_send(struct bh_store *s, const redisReply *keys, const char *const *argv, int argc,
	      const char **error_r)
{
	const char *av[PIPELINE_MAX_ARGS];
	size_t al[PIPELINE_MAX_ARGS], i;
	int64_t sent = 0;
	int a;

	assert(argc >= 1 && argc <= PIPELINE_MAX_ARGS && argv[0] != NULL);
	for (i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];

		if (k->type != REDIS_REPLY_STRING)
			continue;
		for (a = 0; a < argc; a++) {
			av[a] = argv[a] != NULL ? argv[a] : k->str;
			al[a] = argv[a] != NULL ? strlen(argv[a]) : k->len;
		}
		if (redisAppendCommandArgv(s->ctx, argc, av, al) != REDIS_OK) {
			transport_err(s, error_r, argv[0]);
			return -1;
		}
		sent++;
	}
	return sent;
}

/* pipeline_reply - the next reply of a pipeline (the caller's to free), or NULL after a
 * transport error (the connection is then dropped); what names the command in the error */
static redisReply *
pipeline_reply(struct bh_store *s, const char *what, const char **error_r)
{
	void *rp;

	if (redisGetReply(s->ctx, &rp) != REDIS_OK) {
		transport_err(s, error_r, what);
		return NULL;
	}
	return rp;
}

/* load_script - SCRIPT LOAD one script into sha (41 bytes) */
static int
load_script(struct bh_store *s, const char *lua, char *sha, const char **error_r)
{
	redisReply *r = redisCommand(s->ctx, "SCRIPT LOAD %s", lua);
	int ret = -1;

	if (r == NULL) {
		transport_err(s, error_r, "SCRIPT LOAD");
		return -1;
	}
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		set_err(s, error_r, "redis: SCRIPT LOAD: %.200s",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	memcpy(sha, r->str, 40);
	sha[40] = '\0';
	ret = 0;
out:
	freeReplyObject(r);
	return ret;
}

/* simple_ok - run a short setup command and require a non-error reply */
static int
simple_ok(struct bh_store *s, const struct args *a, const char **error_r)
{
	redisReply *r = redisCommandArgv(s->ctx, (int)a->n, (const char **)a->v, a->len);
	int ret = -1;

	if (r == NULL) {
		transport_err(s, error_r, a->v[0]);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR)
		set_err(s, error_r, "redis: %s: %.200s", a->v[0], r->str);
	else
		ret = 0;
	freeReplyObject(r);
	return ret;
}

/* split_hostport - "host:port" or "[v6]:port" into host (size bytes) and port; 0 or -1 */
static int
split_hostport(const char *hp, char *host, size_t size, int *port)
{
	const char *colon = strrchr(hp, ':'), *err = NULL;
	long long n;
	size_t hl;

	if (colon == NULL || colon == hp || bh_strtonum(colon + 1, 1, 65535, &n, &err) == -1)
		return -1;
	hl = (size_t)(colon - hp);
	if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl >= size)
		return -1;
	memcpy(host, hp, hl);
	host[hl] = '\0';
	*port = (int)n;
	return 0;
}

/* sentinel_auth - AUTH [user] password on a sentinel connection when redis.sentinel_password
 * is set; 0, or -1 with *error_r naming the sentinel (the reply is quoted, never the secret) */
static int
sentinel_auth(struct bh_store *s, redisContext *c, const char *name, const char **error_r)
{
	const struct bh_redis_conf *rc = s->rc;
	const char *av[3];
	size_t al[3];
	int n = 0;
	redisReply *r;

	if (rc->sentinel_password == NULL)
		return 0;
	av[n++] = "AUTH";
	if (rc->sentinel_user != NULL)
		av[n++] = rc->sentinel_user;
	av[n++] = rc->sentinel_password;
	for (int i = 0; i < n; i++)
		al[i] = strlen(av[i]);
	r = redisCommandArgv(c, n, av, al);
	if (r == NULL) {
		set_err(s, error_r, "redis: sentinel %s: AUTH: %s", name, c->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		set_err(s, error_r, "redis: sentinel %s: AUTH: %.200s", name, r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* sentinel_master - ask the sentinels, each in turn, where the master is (after AUTH when
 * they require a password); 0 with host and port, or -1 with *error_r (the last sentinel's
 * problem) */
static int
sentinel_master(struct bh_store *s, char *host, size_t size, int *port, const char **error_r)
{
	const struct bh_redis_conf *rc = s->rc;
	struct timeval ctv, ttv;
	redisContext *c;
	redisReply *r;
	char sh[256];
	int sp;
	size_t i;

	ctv.tv_sec = rc->connect_timeout_ms / 1000;
	ctv.tv_usec = (rc->connect_timeout_ms % 1000) * 1000;
	ttv = ctv;
	set_err(s, error_r, "redis: no sentinel configured");
	for (i = 0; i < rc->n_sentinels; i++) {
		if (split_hostport(rc->sentinels[i], sh, sizeof(sh), &sp) == -1)
			continue;
		c = redisConnectWithTimeout(sh, sp, ctv);
		if (c == NULL || c->err != 0) {
			set_err(s, error_r, "redis: sentinel %s: %s", rc->sentinels[i],
				c != NULL ? c->errstr : "out of memory");
			if (c != NULL)
				redisFree(c);
			continue;
		}
		redisSetTimeout(c, ttv);
		if (sentinel_auth(s, c, rc->sentinels[i], error_r) == -1) {
			redisFree(c);
			continue;
		}
		r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", rc->master_name);
		if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < size) {
			long long n;
			const char *err = NULL;

			if (bh_strtonum(r->element[1]->str, 1, 65535, &n, &err) == 0) {
				memcpy(host, r->element[0]->str, r->element[0]->len + 1);
				*port = (int)n;
				freeReplyObject(r);
				redisFree(c);
				return 0;
			}
		}
		if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0)
			set_err(s, error_r,
				"redis: sentinel %s requires a password: set "
				"redis.sentinel_password_file or sentinel_password_env (%.200s)",
				rc->sentinels[i], r->str);
		else
			set_err(s, error_r,
				"redis: sentinel %s does not know master %.100s%s%.200s",
				rc->sentinels[i], rc->master_name,
				r != NULL && r->type == REDIS_REPLY_ERROR ? ": " : "",
				r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "");
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
	}
	return -1;
}

/* open_ctx - connect to the Cluster MOVED target, the sentinels' master or the configured
 * server; authenticate and select. 0, or -1 with *error_r (nothing left open). */
static int
open_ctx(struct bh_store *s, const char **error_r)
{
	const struct bh_redis_conf *rc = s->rc;
	struct timeval ctv, ttv;
	struct args a = {0};
	char host[256];
	int port = rc->port;

	ctv.tv_sec = rc->connect_timeout_ms / 1000;
	ctv.tv_usec = (rc->connect_timeout_ms % 1000) * 1000;
	ttv.tv_sec = rc->command_timeout_ms / 1000;
	ttv.tv_usec = (rc->command_timeout_ms % 1000) * 1000;
	if (s->moved_host != NULL) {
		snprintf(host, sizeof(host), "%s", s->moved_host);
		port = s->moved_port;
	} else if (rc->n_sentinels > 0) {
		if (sentinel_master(s, host, sizeof(host), &port, error_r) == -1)
			return -1;
	} else if (rc->socket == NULL) {
		snprintf(host, sizeof(host), "%s", rc->host != NULL ? rc->host : "127.0.0.1");
	}
	if (rc->socket != NULL && s->moved_host == NULL && rc->n_sentinels == 0) {
		snprintf(s->addr, sizeof(s->addr), "%s", rc->socket);
		s->ctx = redisConnectUnixWithTimeout(rc->socket, ctv);
	} else {
		snprintf(s->addr, sizeof(s->addr), "%s:%d", host, port);
		s->ctx = redisConnectWithTimeout(host, port, ctv);
	}
	if (s->ctx == NULL || s->ctx->err != 0) {
		set_err(s, error_r, "redis: connect %s: %s", s->addr,
			s->ctx != NULL ? s->ctx->errstr : "out of memory");
		return -1;
	}
	if (redisSetTimeout(s->ctx, ttv) != REDIS_OK) {
		set_err(s, error_r, "redis: %s: set timeout failed", s->addr);
		return -1;
	}
	if (rc->password != NULL) {
		args_add(&a, "AUTH");
		if (rc->user != NULL)
			args_add(&a, rc->user);
		args_add(&a, rc->password);
		if (simple_ok(s, &a, error_r) == -1)
			goto fail;
		args_deinit(&a);
	}
	if (rc->db != 0) {
		args_add(&a, "SELECT");
		args_addf(&a, "%d", rc->db);
		if (simple_ok(s, &a, error_r) == -1)
			goto fail;
		args_deinit(&a);
	}
	return 0;
fail:
	args_deinit(&a);
	return -1;
}

/* parse_moved - "MOVED slot host:port" into s->moved_host / moved_port; 0, or -1 when the
 * reply is no redirection */
static int
parse_moved(struct bh_store *s, const char *str)
{
	const char *sp;
	char host[256];
	int port;

	if (strncmp(str, "MOVED ", 6) != 0 || (sp = strchr(str + 6, ' ')) == NULL ||
	    split_hostport(sp + 1, host, sizeof(host), &port) == -1)
		return -1;
	free(s->moved_host);
	s->moved_host = bh_strdup(host);
	s->moved_port = port;
	return 0;
}

/* must_reresolve - an error reply saying this server is not (or no longer) the one to write
 * to: a replica after a failover (READONLY), a master without its replicas (MASTERDOWN), one
 * loading its data (LOADING), or a Cluster node that does not own the slot (MOVED) */
static bool
must_reresolve(struct bh_store *s, const redisReply *r)
{
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return false;
	if (parse_moved(s, r->str) == 0)
		return true;
	return strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0 ||
	       strncmp(r->str, "LOADING", 7) == 0 || strstr(r->str, "READONLY") != NULL;
}

/* route - on Cluster, follow MOVED until this node owns the slot of "{prefix}"; with
 * sentinels, check that the server is a master. 0, 1 (s->moved_host set: connect there), -1 */
static int
route(struct bh_store *s, const char **error_r)
{
	redisReply *r;
	char *k = bh_asprintf("%s:-", s->tag);
	int ret = -1;

	r = redisCommand(s->ctx, "EXISTS %s", k);
	free(k);
	if (r == NULL) {
		set_err(s, error_r, "redis: %s: %s", s->addr, s->ctx->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR && parse_moved(s, r->str) == 0) {
		freeReplyObject(r);
		return 1;
	}
	freeReplyObject(r);
	if (s->rc->n_sentinels == 0)
		return 0;
	r = redisCommand(s->ctx, "ROLE");
	if (r == NULL) {
		set_err(s, error_r, "redis: %s: %s", s->addr, s->ctx->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0)
		ret = 0;
	else
		set_err(s, error_r, "redis: %s (from the sentinels) is not a master", s->addr);
	freeReplyObject(r);
	return ret;
}

/* bh_store_connect - connect (through the sentinels, following MOVED), authenticate, select
 * and load the scripts */
int
bh_store_connect(struct bh_store *s, const char **error_r)
{
	int64_t now = bh_mono_ms();
	int hop, r = -1;

	if (s->ctx != NULL)
		return 0;
	if (now < s->next_try_ms) {
		set_err(s, error_r, "redis unavailable: %s (next attempt in %lld ms)",
			s->err[0] != '\0' ? s->err : "not connected",
			(long long)(s->next_try_ms - now));
		/* keep the original text in s->err */
		return -1;
	}
	for (hop = 0; hop < 4; hop++) {
		if (open_ctx(s, error_r) == -1)
			goto fail;
		if ((r = route(s, error_r)) != 1)
			break;
		redisFree(s->ctx); /* MOVED: the slot's owner is elsewhere */
		s->ctx = NULL;
	}
	if (r != 0) {
		if (r == 1)
			set_err(s, error_r, "redis: too many MOVED redirections");
		goto fail;
	}
	if (load_script(s, apply_lua, s->apply_sha, error_r) == -1 ||
	    load_script(s, manual_lua, s->manual_sha, error_r) == -1 ||
	    load_script(s, lease_lua, s->lease_sha, error_r) == -1)
		goto fail;
	s->backoff_ms = 0;
	s->next_try_ms = 0;
	s->err[0] = '\0';
	return 0;
fail:
	drop(s);
	return -1;
}

/* bh_store_backoff_ms - ms before a connection attempt is allowed; 0 when connected or due */
int64_t
bh_store_backoff_ms(const struct bh_store *s)
{
	int64_t left = s->next_try_ms - bh_mono_ms();

	return s->ctx != NULL || left < 0 ? 0 : left;
}

/* bh_store_new - a store over cfg; does not connect */
struct bh_store *
bh_store_new(const struct bh_config *cfg, const char *rules_version, const char **error_r)
{
	const char *prefix = cfg->redis.prefix != NULL ? cfg->redis.prefix : "bouncer";
	struct bh_store *s;

	if (prefix[0] == '\0' || strpbrk(prefix, "{}") != NULL) {
		*error_r = "redis prefix must be non-empty and must not contain '{' or '}'";
		return NULL;
	}
	if (cfg->redis.socket == NULL && (cfg->redis.port <= 0 || cfg->redis.port > 65535)) {
		*error_r = "redis port out of range";
		return NULL;
	}
	s = bh_calloc(1, sizeof(*s));
	s->cfg = cfg;
	s->rc = &cfg->redis;
	s->tag = bh_asprintf("{%s}", prefix);
	s->rules_version = bh_strdup(rules_version != NULL ? rules_version : "-");
	return s;
}

/* item_errs_clear - free the per-item error texts of the last apply */
static void
item_errs_clear(struct bh_store *s)
{
	size_t i;

	for (i = 0; i < s->n_item_errs; i++)
		free(s->item_errs[i]);
	free(s->item_errs);
	s->item_errs = NULL;
	s->n_item_errs = 0;
}

/* item_err - keep a copy of an error text until the next apply */
static const char *
item_err(struct bh_store *s, const char *text)
{
	s->item_errs = bh_reallocarray(s->item_errs, s->n_item_errs + 1, sizeof(char *));
	s->item_errs[s->n_item_errs] = bh_printable(text, strlen(text), 300);
	return s->item_errs[s->n_item_errs++];
}

/* bh_store_free - close the connection and free everything; accepts *sp NULL, sets it NULL */
void
bh_store_free(struct bh_store **sp)
{
	struct bh_store *s = *sp;

	if (s == NULL)
		return;
	if (s->ctx != NULL)
		redisFree(s->ctx);
	free(s->pend_todo);
	item_errs_clear(s);
	free(s->lease_key);
	free(s->lease_token);
	free(s->moved_host);
	free(s->tag);
	free(s->rules_version);
	free(s);
	*sp = NULL;
}

/* bh_store_key_prefix - "{prefix}", the hash-tagged start of every key; borrowed from s */
const char *
bh_store_key_prefix(const struct bh_store *s)
{
	return s->tag;
}

/* bh_store_is_confirmed - does Redis hold its outcome (applied now, or before: a duplicate)? */
bool
bh_store_is_confirmed(const struct bh_store_item *it)
{
	return it->status == BH_STORE_APPLIED || it->status == BH_STORE_DUPLICATE;
}

/* ---- names ---- */

/* action_text - the policy action in words: "suppress", "suppress for 86400s", "count 3 in
 * 1296000s for 2592000s", "ignore", "alert" */
static void
action_text(struct bh_buf *b, const struct bh_policy_action *a)
{
	switch (a->kind) {
	case BH_POL_SUPPRESS: bh_buf_puts(b, "suppress"); break;
	case BH_POL_SUPPRESS_FOR:
		bh_buf_printf(b, "suppress for %llds", (long long)a->duration_s);
		break;
	case BH_POL_COUNT:
		bh_buf_printf(b, "count %u in %llds", a->threshold, (long long)a->window_s);
		if (a->duration_s > 0)
			bh_buf_printf(b, " for %llds", (long long)a->duration_s);
		break;
	case BH_POL_IGNORE: bh_buf_puts(b, "ignore"); break;
	case BH_POL_ALERT: bh_buf_puts(b, "alert"); break;
	case BH_POL_INHERIT: bh_buf_puts(b, "inherit"); break;
	}
	bh_buf_puts(b, a->scope == BH_SCOPE_GLOBAL ? " (global)" : " (list)");
}

/* rcpt_class - hard, soft, complaint or sender */
static const char *
rcpt_class(const struct bh_decision *d)
{
	if (d == NULL || d->rcpt == NULL)
		return "-";
	if (d->rcpt->reason == BH_R_FEEDBACK)
		return "complaint";
	if (d->rcpt->hard)
		return "hard";
	if (d->sender_side)
		return "sender";
	return "soft";
}

/* kv - append a name and a value (NULL: "") */
static void
kv(struct args *a, const char *k, const char *v)
{
	args_add(a, k);
	args_add(a, v);
}

/* kv_cut - append a name and an untrusted value cut to max bytes */
static void
kv_cut(struct args *a, const char *k, const char *v, size_t max)
{
	size_t n = v == NULL ? 0 : strlen(v);

	args_add(a, k);
	args_addn(a, v == NULL ? "" : v, n > max ? max : n);
}

/* list_norm - a list name as it appears in keys: lower-case (list names match without regard
 * to case, and VERP addresses carry them lower-case); NULL for none. The caller frees. */
static char *
list_norm(const char *list)
{
	char *l;

	if (list == NULL || list[0] == '\0')
		return NULL;
	l = bh_strdup(list);
	bh_lower_ascii(l);
	return l;
}

/* stats_field - "list\treason" for the stats bucket. XXX: a list name holding a TAB would
 * split wrongly when read back; config list names never do. */
static char *
stats_field(const struct bh_verdict *v, const struct bh_decision *d)
{
	char *list = list_norm(d != NULL ? d->list : NULL), *f;
	const char *reason = "-";

	if (v->loop.kind != BH_LOOP_NONE)
		reason = NULL;
	else if (d != NULL && d->rcpt != NULL)
		reason = bh_reason_name(d->rcpt->reason);
	else if (v->type == BH_TYPE_AUTOREPLY)
		reason = "vacation";
	if (reason == NULL)
		f = bh_asprintf("%s\tloop:%s", list != NULL ? list : "-",
				bh_loop_kind_name(v->loop.kind));
	else
		f = bh_asprintf("%s\t%s", list != NULL ? list : "-", reason);
	free(list);
	return f;
}

/* key_sup - the suppression key of address in list (NULL: global) */
static char *
key_sup(const struct bh_store *s, const char *addr, const char *list)
{
	if (list == NULL)
		return bh_asprintf("%s:sup:g:%s", s->tag, addr);
	return bh_asprintf("%s:sup:l:%s:%s", s->tag, list, addr);
}

/* key_soft - the soft-bounce window of address in list (NULL: global) */
static char *
key_soft(const struct bh_store *s, const char *addr, const char *list)
{
	if (list == NULL)
		return bh_asprintf("%s:soft:g:%s", s->tag, addr);
	return bh_asprintf("%s:soft:l:%s:%s", s->tag, list, addr);
}

/* build_decision - keys and arguments of one decision (d NULL: the message alone) */
static void
build_decision(struct bh_store *s, const struct bh_store_item *it, const struct bh_decision *d,
	       struct args *keys, struct args *argv)
{
	const struct bh_verdict *v = it->v;
	const struct bh_rcpt *r = d != NULL ? d->rcpt : NULL;
	const struct bh_list_policy *pol = NULL;
	char *list = list_norm(d != NULL ? d->list : NULL);
	const char *error = NULL, *domain = "";
	char *addr = NULL, *sfield, *dom_copy = NULL;
	enum bh_outcome outcome = BH_OUT_RECORD;
	bool global, sender = false, have_list = list != NULL && list[0] != '\0';
	struct args ev = {0}, sup = {0};
	struct bh_buf b;
	char *none = bh_asprintf("%s:-", s->tag);

	bh_buf_init(&b);
	if (d != NULL) {
		outcome = d->outcome;
		sender = d->sender_side;
		pol = bh_config_policy(s->cfg, have_list ? list : NULL, NULL);
		if (d->address != NULL &&
		    bh_addr_normalize(d->address, strlen(d->address), &addr, &error) == -1)
			addr = NULL;
	} else if (it->d != NULL && it->d->refused) {
		outcome = BH_OUT_REFUSE;
	}
	if (addr != NULL)
		domain = bh_addr_domain(addr);
	else if (r != NULL && r->address != NULL &&
		 bh_addr_normalize(r->address, strlen(r->address), &dom_copy, &error) == 0)
		domain = bh_addr_domain(dom_copy);
	global = d != NULL && d->action.scope == BH_SCOPE_GLOBAL;
	/* Nothing is suppressed or counted without a normalized address. */
	if (addr == NULL && (outcome == BH_OUT_SUPPRESS || outcome == BH_OUT_COUNT))
		outcome = BH_OUT_RECORD;

	/* keys */
	if (addr != NULL) {
		const char *klist = global || !have_list ? NULL : list;

		char *k1 = key_sup(s, addr, klist), *k2 = key_soft(s, addr, klist);

		args_add(keys, k1);
		args_add(keys, k2);
		free(k1);
		free(k2);
		args_addf(keys, "%s:ev:%s", s->tag, addr);
		args_addf(keys, "%s:supidx:%s", s->tag, addr);
	} else {
		args_add(keys, none);
		args_add(keys, none);
		args_add(keys, none);
		args_add(keys, none);
	}
	if (sender && domain[0] != '\0')
		args_addf(keys, "%s:sender:d:%s", s->tag, domain);
	else
		args_add(keys, none);
	if (sender && have_list)
		args_addf(keys, "%s:sender:l:%s", s->tag, list);
	else
		args_add(keys, none);
	if (sender && domain[0] != '\0')
		args_addf(keys, "%s:alert:d:%s", s->tag, domain);
	else
		args_add(keys, none);
	if (sender && have_list)
		args_addf(keys, "%s:alert:l:%s", s->tag, list);
	else
		args_add(keys, none);

	/* 13 control values */
	args_add(argv, bh_outcome_name(outcome));
	args_addf(argv, "%lld", d != NULL ? (long long)d->action.duration_s : 0LL);
	args_addf(argv, "%u", d != NULL ? d->action.threshold : 0u);
	args_addf(argv, "%lld", d != NULL ? (long long)d->action.window_s : 0LL);
	args_add(argv, sender ? "1" : "0");
	args_addf(argv, "%u", pol != NULL ? pol->sender_alert_threshold : 0u);
	args_addf(argv, "%lld", pol != NULL ? (long long)pol->sender_alert_window_s : 0LL);
	args_add(argv, addr != NULL ? addr : "");
	args_add(argv, have_list ? list : "");
	args_add(argv, sender ? domain : "");
	/* The member of the soft and sender-rate windows: the message, not the recipient block,
	 * so that one report naming the same subscriber twice counts once. */
	args_add(argv, v->stable_id);
	args_add(argv, global ? "global" : "list");
	sfield = stats_field(v, d);
	args_add(argv, sfield);
	free(sfield);

	/* suppression fields */
	kv(&sup, "address", addr);
	kv(&sup, "list", global || !have_list ? "" : list);
	kv(&sup, "reason", r != NULL ? bh_reason_name(r->reason) : "-");
	kv(&sup, "class", rcpt_class(d));
	kv(&sup, "source", "bounce");
	kv(&sup, "why", d != NULL ? d->why : "");
	kv_cut(&sup, "message_id", v->env.message_id, BH_MAX_FIELD_VALUE);
	kv(&sup, "stable_id", v->stable_id);
	kv(&sup, "status", r != NULL ? r->status : "");
	kv(&sup, "rule", r != NULL ? r->rule : "");
	args_addf(argv, "%zu", sup.n / 2);
	args_cat(argv, &sup);

	/* event fields */
	kv(&ev, "kind", d == NULL ? "message" : (d->delayed ? "delayed" : "bounce"));
	kv(&ev, "address", addr);
	if (addr == NULL && d != NULL && d->address != NULL)
		kv_cut(&ev, "raw_address", d->address, BH_MAX_ADDRESS);
	if (addr == NULL && error != NULL && d != NULL && d->address != NULL)
		kv(&ev, "address_error", error);
	kv(&ev, "list", have_list ? list : "");
	kv(&ev, "reason", r != NULL ? bh_reason_name(r->reason) : "-");
	kv(&ev, "class", rcpt_class(d));
	kv(&ev, "outcome", bh_outcome_name(outcome));
	if (d != NULL) {
		action_text(&b, &d->action);
		kv(&ev, "action", b.data);
		kv(&ev, "why", d->why);
	} else {
		kv(&ev, "action", "-");
		kv(&ev, "why", it->d != NULL && it->d->refused ? "refused" : "no recipients");
	}
	kv(&ev, "status", r != NULL ? r->status : "");
	kv(&ev, "reply_code", r != NULL ? r->reply_code : "");
	kv_cut(&ev, "diagnostic", r != NULL ? r->diagnostic : NULL, BH_MAX_DIAGNOSTIC);
	kv_cut(&ev, "remote_mta", r != NULL ? r->remote_mta : NULL, BH_MAX_FIELD_VALUE);
	if (r != NULL && r->feedback_type != NULL)
		kv_cut(&ev, "feedback_type", r->feedback_type, BH_MAX_FIELD_VALUE);
	kv(&ev, "rule", r != NULL ? r->rule : "");
	kv(&ev, "sender_side", sender ? "1" : "0");
	if (sender && domain[0] != '\0')
		kv(&ev, "domain", domain);
	args_addf(argv, "%zu", ev.n / 2);
	args_cat(argv, &ev);

	args_deinit(&ev);
	args_deinit(&sup);
	bh_buf_deinit(&b);
	free(addr);
	free(dom_copy);
	free(none);
	free(list);
}

/* What the apply script needs to know about repetition for one message. */
struct repetition {
	int strength;	  /* 0: nothing counted or suppressed; 1: counts; 2: suppresses */
	int64_t window_s; /* 0: no repeat key (no list, address or original id) */
	unsigned alert;
	const char *policy; /* loops.repeat: "ignore" or "alert" */
	unsigned burst_max;
	int64_t burst_window_s; /* 0: no list */
};

/* sent_id - what names the message that bounced: its Message-ID, else the DSN envelope id */
static const char *
sent_id(const struct bh_verdict *v)
{
	if (v->original.message_id != NULL && v->original.message_id[0] != '\0')
		return v->original.message_id;
	if (v->env.original_envelope_id != NULL && v->env.original_envelope_id[0] != '\0')
		return v->env.original_envelope_id;
	return NULL;
}

/* repetition_keys - the message's five repetition keys and its settings. Every decision of a
 * message is about the same VERP recipient and list, so repetition is decided per message:
 * KEYS repeat hash {p}:rpt:SHA256(list NUL address NUL sent id), burst zset {p}:burst:LIST,
 * {p}:mailed:LIST, {p}:held:LIST, burst alert marker {p}:alert:b:LIST */
static void
repetition_keys(struct bh_store *s, const struct bh_store_item *it, struct args *keys,
		struct repetition *rep)
{
	const struct bh_verdict *v = it->v;
	const struct bh_list_policy *pol;
	const char *id = sent_id(v), *error = NULL, *addr_in = NULL;
	char *list = NULL, *addr = NULL;
	size_t i;

	memset(rep, 0, sizeof(*rep));
	rep->policy = "ignore";
	if (it->d != NULL && v->loop.kind == BH_LOOP_NONE)
		for (i = 0; i < it->d->n; i++) {
			const struct bh_decision *d = &it->d->v[i];
			int st = d->outcome == BH_OUT_SUPPRESS ? 2 : d->outcome == BH_OUT_COUNT;

			if (d->address == NULL || st == 0)
				continue;
			if (st > rep->strength)
				rep->strength = st;
			addr_in = d->address;
			if (list == NULL)
				list = list_norm(d->list);
		}
	if (addr_in != NULL && bh_addr_normalize(addr_in, strlen(addr_in), &addr, &error) == -1) {
		addr = NULL;
		rep->strength = 0;
	}
	pol = bh_config_policy(s->cfg, list, NULL);
	if (rep->strength > 0 && addr != NULL && id != NULL && pol->repeat_window_s > 0) {
		struct sha256_ctx c;
		uint8_t dg[SHA256_DIGEST_SIZE];
		char hex[2 * SHA256_DIGEST_SIZE + 1];

		sha256_init(&c);
		if (list != NULL)
			sha256_update(&c, strlen(list), (const uint8_t *)list);
		sha256_update(&c, 1, (const uint8_t *)"");
		sha256_update(&c, strlen(addr), (const uint8_t *)addr);
		sha256_update(&c, 1, (const uint8_t *)"");
		sha256_update(&c, strnlen(id, BH_MAX_FIELD_VALUE), (const uint8_t *)id);
		sha256_digest(&c, sizeof(dg), dg);
		for (i = 0; i < sizeof(dg); i++)
			snprintf(hex + 2 * i, 3, "%02x", dg[i]);
		args_addf(keys, "%s:rpt:%s", s->tag, hex);
		rep->window_s = pol->repeat_window_s;
		rep->alert = pol->repeat_alert;
		rep->policy = pol->loop[BH_LOOP_REPEAT].kind == BH_POL_ALERT ? "alert" : "ignore";
	} else {
		args_addf(keys, "%s:-", s->tag);
	}
	if (rep->strength > 0 && list != NULL && pol->burst_window_s > 0) {
		args_addf(keys, "%s:burst:%s", s->tag, list);
		args_addf(keys, "%s:mailed:%s", s->tag, list);
		args_addf(keys, "%s:held:%s", s->tag, list);
		args_addf(keys, "%s:alert:b:%s", s->tag, list);
		rep->burst_max = pol->burst_max;
		rep->burst_window_s = pol->burst_window_s;
	} else {
		for (i = 0; i < 4; i++)
			args_addf(keys, "%s:-", s->tag);
	}
	_Static_assert(MESSAGE_KEYS == 8, "repetition_keys adds MESSAGE_KEYS - 3 keys");
	free(addr);
	free(list);
}

/* build_item - the whole EVALSHA command of one message */
static void
build_item(struct bh_store *s, const struct bh_store_item *it, int64_t now, struct args *cmd)
{
	const struct bh_verdict *v = it->v;
	struct args keys = {0}, argv = {0}, common = {0};
	size_t nd = it->d != NULL ? it->d->n : 0, i;
	int64_t bucket = now - now % STATS_BUCKET_S;
	struct repetition rep;

	args_addf(&keys, "%s:applied:%s", s->tag, v->stable_id);
	args_addf(&keys, "%s:events", s->tag);
	args_addf(&keys, "%s:stats:%lld", s->tag, (long long)bucket);
	repetition_keys(s, it, &keys, &rep);

	args_addf(&argv, "%lld", (long long)now);
	args_addf(&argv, "%lld", (long long)BH_STORE_APPLIED_TTL_S);
	args_addf(&argv, "%lld",
		  (long long)(s->rc->stream_maxlen > 0 ? s->rc->stream_maxlen : 1000000));
	args_addf(&argv, "%zu", nd == 0 ? (size_t)1 : nd);
	args_addf(&argv, "%d", STATS_TTL_S);
	args_add(&argv, it->mailbox != NULL ? it->mailbox : "-");
	args_add(&argv, it->folder != NULL ? it->folder : "-");
	args_addf(&argv, "%lu", (unsigned long)it->uidvalidity);
	args_addf(&argv, "%lu", (unsigned long)it->uid);
	args_add(&argv, it->loop_folder != NULL ? it->loop_folder
						: (it->folder != NULL ? it->folder : "-"));
	args_addf(&argv, "%d", rep.strength);
	args_addf(&argv, "%lld", (long long)rep.window_s);
	args_addf(&argv, "%u", rep.alert);
	args_add(&argv, rep.policy);
	args_addf(&argv, "%u", rep.burst_max);
	args_addf(&argv, "%lld", (long long)rep.burst_window_s);
	args_add(&argv, v->stable_id);

	kv(&common, "stable_id", v->stable_id);
	kv_cut(&common, "message_id", v->env.message_id, BH_MAX_FIELD_VALUE);
	kv_cut(&common, "original_message_id", v->original.message_id, BH_MAX_FIELD_VALUE);
	kv_cut(&common, "reporting_mta", v->env.reporting_mta, BH_MAX_FIELD_VALUE);
	kv(&common, "type", bh_msg_type_name(v->type));
	kv(&common, "recognizer", v->recognizer != NULL ? v->recognizer : "");
	kv(&common, "rules_version", s->rules_version);
	kv(&common, "loop", v->loop.kind != BH_LOOP_NONE ? bh_loop_kind_name(v->loop.kind) : "");
	kv(&common, "verp", !v->verp.checked ? "none" : (v->verp.valid ? "valid" : "invalid"));
	kv(&common, "mailbox", it->mailbox != NULL ? it->mailbox : "-");
	kv(&common, "folder", it->folder != NULL ? it->folder : "-");
	args_add(&common, "uidvalidity");
	args_addf(&common, "%lu", (unsigned long)it->uidvalidity);
	args_add(&common, "uid");
	args_addf(&common, "%lu", (unsigned long)it->uid);
	args_addf(&argv, "%zu", common.n / 2);
	args_cat(&argv, &common);

	if (nd == 0)
		build_decision(s, it, NULL, &keys, &argv);
	for (i = 0; i < nd; i++)
		build_decision(s, it, &it->d->v[i], &keys, &argv);

	/* the lease last (the script reads KEYS[#KEYS] and ARGV[#ARGV]) */
	if (s->lease_key != NULL) {
		args_add(&keys, s->lease_key);
		args_add(&argv, s->lease_token);
	} else {
		args_addf(&keys, "%s:-", s->tag);
		args_add(&argv, "");
	}
	args_add(cmd, "EVALSHA");
	args_add(cmd, s->apply_sha);
	args_addf(cmd, "%zu", keys.n);
	args_cat(cmd, &keys);
	args_cat(cmd, &argv);
	args_deinit(&keys);
	args_deinit(&argv);
	args_deinit(&common);
}

/* read_apply_reply - the script's answer {status, first event, suppressed, alerts, loop, held} */
static void
read_apply_reply(struct bh_store *s, struct bh_store_item *it, const redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 6 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[2]->type == REDIS_REPLY_INTEGER &&
	    r->element[3]->type == REDIS_REPLY_INTEGER &&
	    r->element[4]->type == REDIS_REPLY_STRING &&
	    r->element[5]->type == REDIS_REPLY_INTEGER) {
		bool dup = strcmp(r->element[0]->str, "duplicate") == 0;

		if (dup || strcmp(r->element[0]->str, "applied") == 0) {
			it->status = dup ? BH_STORE_DUPLICATE : BH_STORE_APPLIED;
			it->n_suppressed = (unsigned)r->element[2]->integer;
			it->n_alerts = (unsigned)r->element[3]->integer;
			it->n_held = (unsigned)r->element[5]->integer;
			it->loop = strcmp(r->element[4]->str, "repeat") == 0 ? BH_LOOP_REPEAT
									     : BH_LOOP_NONE;
			it->error = NULL;
			return;
		}
		if (strcmp(r->element[0]->str, "lease_lost") == 0) {
			it->status = BH_STORE_UNCONFIRMED;
			it->error = "mailbox lease lost: another worker holds it";
			s->lease_lost = true;
			return;
		}
	}
	it->status = BH_STORE_UNCONFIRMED;
	it->error = item_err(s, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected script reply");
}

/* apply_send - one EVALSHA per todo item (and WAIT with replicas to wait for), written out
 * without waiting for the replies: 0, or -1 (the connection is dropped) */
static int
apply_send(struct bh_store *s, struct bh_store_item *items, size_t n, const bool *todo,
	   const char **error_r)
{
	int64_t now = bh_now();
	struct args cmd = {0};
	struct bh_buf resp;
	size_t i;
	int done = 0;

	bh_buf_init(&resp);
	for (i = 0; i < n; i++) {
		if (!todo[i])
			continue;
		build_item(s, &items[i], now, &cmd);
		if (args_append_to(s->ctx, &cmd, &resp) == -1) {
			args_deinit(&cmd);
			bh_buf_deinit(&resp);
			transport_err(s, error_r, "EVALSHA");
			return -1;
		}
		args_deinit(&cmd);
	}
	bh_buf_deinit(&resp);
	/* With replicas to wait for, WAIT ends the same round trip: a message is confirmed (and
	 * then moved) only once its write is on a replica that a failover may promote. */
	if (s->rc->wait_replicas > 0 &&
	    redisAppendCommand(s->ctx, "WAIT %d %lld", s->rc->wait_replicas,
			       (long long)(s->rc->command_timeout_ms / 2)) != REDIS_OK) {
		transport_err(s, error_r, "WAIT");
		return -1;
	}
	/* out now, so that Redis works while the caller does (bounded by the command timeout) */
	while (!done)
		if (redisBufferWrite(s->ctx, &done) != REDIS_OK) {
			transport_err(s, error_r, "EVALSHA");
			return -1;
		}
	return 0;
}

/* apply_read - the replies to what apply_send wrote: todo[i] is cleared for each item that
 * ran (confirmed or not); *noscript when Redis no longer knows the script. 0, or -1 on a
 * transport error (the connection is dropped; the items not read stay todo) */
static int
apply_read(struct bh_store *s, struct bh_store_item *items, size_t n, bool *todo, bool *noscript,
	   const char **error_r)
{
	size_t i;
	redisReply *r;
	void *rp;
	bool *now_ok = bh_calloc(n + 1, sizeof(*now_ok)), reroute = false;
	int ret = -1;

	*noscript = false;
	for (i = 0; i < n; i++) {
		if (!todo[i])
			continue;
		if (redisGetReply(s->ctx, &rp) != REDIS_OK) {
			/* Everything from here on is unconfirmed: it may or may not have run; a
			 * retry finds out through the applied marker. */
			transport_err(s, error_r, "EVALSHA");
			goto out;
		}
		r = rp;
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			*noscript = true; /* stays todo */
		} else if (must_reresolve(s, r)) {
			reroute = true; /* did not run here: stays todo */
		} else {
			read_apply_reply(s, &items[i], r);
			todo[i] = false;
			now_ok[i] = bh_store_is_confirmed(&items[i]);
		}
		freeReplyObject(r);
	}
	if (s->rc->wait_replicas > 0) {
		if (redisGetReply(s->ctx, &rp) != REDIS_OK) {
			transport_err(s, error_r, "WAIT");
			for (i = 0; i < n; i++)
				if (now_ok[i])
					items[i].status = BH_STORE_UNCONFIRMED;
			goto out;
		}
		r = rp;
		if (r->type != REDIS_REPLY_INTEGER || r->integer < s->rc->wait_replicas) {
			char text[128];

			snprintf(text, sizeof(text), "WAIT: %lld of %d replicas acknowledged",
				 r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL,
				 s->rc->wait_replicas);
			for (i = 0; i < n; i++) {
				if (!now_ok[i])
					continue;
				items[i].status = BH_STORE_UNCONFIRMED;
				items[i].error = item_err(s, text);
			}
			set_err(s, error_r, "redis: %s", text);
		}
		freeReplyObject(r);
	}
	if (reroute)
		reresolve(s);
	ret = 0;
out:
	free(now_ok);
	return ret;
}

/* apply_pass - one round trip: apply_send, then apply_read */
static int
apply_pass(struct bh_store *s, struct bh_store_item *items, size_t n, bool *todo, bool *noscript,
	   const char **error_r)
{
	*noscript = false;
	if (apply_send(s, items, n, todo, error_r) == -1)
		return -1;
	return apply_read(s, items, n, todo, noscript, error_r);
}

/* bh_store_apply_reset - forget the per-item error texts of earlier applies */
void
bh_store_apply_reset(struct bh_store *s)
{
	item_errs_clear(s);
}

/* bh_store_apply_begin - mark the items, connect and send the first pass without waiting */
int
bh_store_apply_begin(struct bh_store *s, struct bh_store_item *items, size_t n,
		     const char **error_r)
{
	size_t i;

	if (s->pend_todo != NULL)
		bh_fatal("bh_store_apply_begin: an apply is already pending");
	s->pend_todo = bh_calloc(n == 0 ? 1 : n, sizeof(*s->pend_todo));
	s->pend_sent = false;
	for (i = 0; i < n; i++) {
		items[i].status = BH_STORE_UNCONFIRMED;
		items[i].n_suppressed = 0;
		items[i].n_alerts = 0;
		items[i].n_held = 0;
		items[i].loop = BH_LOOP_NONE;
		items[i].error = "not sent";
		if (items[i].v == NULL || items[i].v->stable_id[0] == '\0') {
			items[i].status = BH_STORE_INVALID;
			items[i].error = "no stable id";
			continue;
		}
		s->pend_todo[i] = true;
	}
	s->pend_reused = s->ctx != NULL;
	if (bh_store_connect(s, error_r) == -1)
		return -1;
	if (apply_send(s, items, n, s->pend_todo, error_r) == -1)
		return -1;
	s->pend_sent = true;
	return 0;
}

/* bh_store_apply_end - read the first pass, then as many more as it takes */
int
bh_store_apply_end(struct bh_store *s, struct bh_store_item *items, size_t n, const char **error_r)
{
	bool *todo = s->pend_todo, noscript = false, retried = false, first;
	size_t i, any = 0;
	int confirmed = 0, pass, ret = -1;

	if (todo == NULL)
		bh_fatal("bh_store_apply_end: no apply pending");
	s->pend_todo = NULL;
	for (i = 0; i < n; i++)
		any += todo[i];
	if (any == 0) {
		ret = 0;
		goto out;
	}
	if (!s->pend_sent) {
		/* begin could not send: a kept connection that died under the send gets one
		 * immediate reconnection; a connection that could not be made is reported as is */
		if (!s->pend_reused || s->ctx != NULL)
			goto out_status;
		retried = true;
		s->next_try_ms = 0;
	}
	/* At most three more passes: one when Redis forgot the script (SCRIPT FLUSH, or a
	 * failover to a replica that never saw SCRIPT LOAD), and one immediate reconnection when a
	 * connection kept from an earlier call turns out dead (the server's idle timeout, a
	 * restart while we were idle). Retrying is safe: the script is idempotent. */
	for (pass = 0; pass < 4; pass++) {
		bool reused;
		int r;

		first = pass == 0 && s->pend_sent && s->ctx != NULL;
		reused = first ? s->pend_reused : s->ctx != NULL;
		if (first) {
			r = apply_read(s, items, n, todo, &noscript, error_r);
		} else {
			if (bh_store_connect(s, error_r) == -1)
				goto out_status;
			r = apply_pass(s, items, n, todo, &noscript, error_r);
		}
		if (r == -1) {
			if (reused && !retried) {
				retried = true;
				s->next_try_ms = 0;
				continue;
			}
			goto out_status;
		}
		if (s->ctx == NULL)
			continue; /* READONLY or MOVED: the rest goes to the right server */
		if (!noscript)
			break;
		if (load_script(s, apply_lua, s->apply_sha, error_r) == -1) {
			/* the connection died after the NOSCRIPT answer: a new one loads
			 * the scripts itself */
			if (s->ctx == NULL && !retried) {
				retried = true;
				s->next_try_ms = 0;
				continue;
			}
			goto out_status;
		}
	}
out_status:
	for (i = 0; i < n; i++) {
		if (bh_store_is_confirmed(&items[i]))
			confirmed++;
		else if (todo[i] && items[i].status == BH_STORE_UNCONFIRMED)
			items[i].error = item_err(s, s->err[0] != '\0' ? s->err : "NOSCRIPT twice");
	}
	ret = confirmed;
	if (confirmed == 0 && s->ctx == NULL)
		ret = -1;
out:
	free(todo);
	return ret;
}

/* bh_store_apply - apply n messages in one round trip */
int
bh_store_apply(struct bh_store *s, struct bh_store_item *items, size_t n, const char **error_r)
{
	bh_store_apply_reset(s);
	(void)bh_store_apply_begin(s, items, n, error_r);
	return bh_store_apply_end(s, items, n, error_r);
}

/* ---- the mailbox lease ---- */

/* bh_store_lease_set - fence every apply with the lease of one mailbox */
void
bh_store_lease_set(struct bh_store *s, const char *host, const char *user, const char *mailbox)
{
	unsigned char rnd[16];
	char hex[33], hostname[128] = "?";
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		bh_fatal("getrandom: %s", strerror(errno));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	gethostname(hostname, sizeof(hostname) - 1);
	hostname[sizeof(hostname) - 1] = '\0';
	free(s->lease_key);
	free(s->lease_token);
	s->lease_key = bh_asprintf("%s:lease:%s:%s:%s", s->tag, host != NULL ? host : "-",
				   user != NULL ? user : "-", mailbox != NULL ? mailbox : "INBOX");
	s->lease_token = bh_asprintf("%s %s pid=%ld", hex, hostname, (long)getpid());
	s->lease_lost = false;
}

/* lease_call - run the lease script with op "take" or "drop"; the reply, or NULL */
static redisReply *
lease_call(struct bh_store *s, const char *op, int64_t ttl_ms, const char **error_r)
{
	struct args a = {0};
	redisReply *r = NULL;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		args_add(&a, "EVALSHA");
		args_add(&a, s->lease_sha);
		args_add(&a, "1");
		args_add(&a, s->lease_key);
		args_add(&a, s->lease_token);
		args_addf(&a, "%lld", (long long)ttl_ms);
		args_add(&a, op);
		r = command(s, &a, error_r);
		args_deinit(&a);
		if (r == NULL || r->type != REDIS_REPLY_ERROR ||
		    strncmp(r->str, "NOSCRIPT", 8) != 0 || pass > 0)
			break;
		freeReplyObject(r);
		r = NULL;
		if (load_script(s, lease_lua, s->lease_sha, error_r) == -1)
			return NULL;
	}
	if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
			  r->element[0]->type != REDIS_REPLY_INTEGER)) {
		set_err(s, error_r, "redis: lease: %.200s",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		r = NULL;
	}
	return r;
}

/* bh_store_lease - take or renew the lease */
int
bh_store_lease(struct bh_store *s, int64_t ttl_ms, const char **holder_r, int64_t *pttl_r,
	       const char **error_r)
{
	redisReply *r;
	int ret;

	*holder_r = NULL;
	*pttl_r = 0;
	if (s->lease_key == NULL) {
		set_err(s, error_r, "no lease set");
		return -1;
	}
	if ((r = lease_call(s, "take", ttl_ms, error_r)) == NULL)
		return -1;
	ret = r->element[0]->integer == 1 ? 1 : 0;
	if (ret == 1) {
		s->lease_lost = false;
	} else {
		if (r->element[1]->type == REDIS_REPLY_STRING) {
			char *p = bh_printable(r->element[1]->str, r->element[1]->len, 200);

			snprintf(s->holder, sizeof(s->holder), "%s", p);
			free(p);
		}
		*holder_r = s->holder;
		if (r->elements > 2 && r->element[2]->type == REDIS_REPLY_INTEGER)
			*pttl_r = r->element[2]->integer;
	}
	freeReplyObject(r);
	return ret;
}

/* bh_store_lease_release - give the lease up when it is ours */
int
bh_store_lease_release(struct bh_store *s, const char **error_r)
{
	redisReply *r;
	int ret;

	if (s->lease_key == NULL)
		return 0;
	if ((r = lease_call(s, "drop", 0, error_r)) == NULL)
		return -1;
	ret = r->element[0]->integer == 1 ? 1 : 0;
	freeReplyObject(r);
	return ret;
}

/* bh_store_lease_lost - did the apply script refuse because the lease holds another token? */
bool
bh_store_lease_lost(const struct bh_store *s)
{
	return s->lease_lost;
}

/* bh_store_note_location - where a confirmed message now sits */
int
bh_store_note_location(struct bh_store *s, const char *stable_id, const char *folder,
		       uint32_t uidvalidity, uint32_t uid, const char **error_r)
{
	struct args a = {0};
	redisReply *r;
	char ttl[32];
	int ret = -1;

	args_add(&a, "HSET");
	args_addf(&a, "%s:applied:%s", s->tag, stable_id);
	kv(&a, "folder", folder);
	args_add(&a, "uidvalidity");
	args_addf(&a, "%lu", (unsigned long)uidvalidity);
	args_add(&a, "uid");
	args_addf(&a, "%lu", (unsigned long)uid);
	r = command(s, &a, error_r);
	if (r == NULL)
		goto out;
	if (r->type == REDIS_REPLY_ERROR) {
		set_err(s, error_r, "redis: HSET: %.200s", r->str);
		goto out;
	}
	freeReplyObject(r);
	/* The marker may have been created by this HSET (it had expired): never keep it forever. */
	snprintf(ttl, sizeof(ttl), "%lld", (long long)BH_STORE_APPLIED_TTL_S);
	r = commandv(s, error_r, "EXPIRE", a.v[1], ttl, (char *)NULL);
	if (r == NULL)
		goto out;
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	args_deinit(&a);
	return ret;
}

/* ---- reading ---- */

/* bh_suppression_deinit - free the strings of a suppression and zero it (not sup itself) */
void
bh_suppression_deinit(struct bh_suppression *sup)
{
	free(sup->address);
	free(sup->list);
	free(sup->reason);
	free(sup->class_);
	free(sup->source);
	free(sup->why);
	free(sup->message_id);
	free(sup->stable_id);
	free(sup->status);
	free(sup->rule);
	free(sup->event_id);
	memset(sup, 0, sizeof(*sup));
}

/* reply_str - a copy of a string-ish reply element */
static char *
reply_str(const redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		return bh_memdup0(r->str, r->len);
	if (r->type == REDIS_REPLY_INTEGER)
		return bh_asprintf("%lld", r->integer);
	return bh_strdup("");
}

/* num - a decimal field, 0 when absent or not a number */
static int64_t
num(const char *p)
{
	long long n;
	const char *e;

	if (p == NULL || bh_strtonum(p, -(1LL << 62), 1LL << 62, &n, &e) == -1)
		return 0;
	return n;
}

/* parse_sup - a suppression from an HGETALL reply; 0, or -1 when the hash is empty or not one */
static int
parse_sup(const redisReply *r, struct bh_suppression *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->elements % 2 != 0)
		return -1;
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		char **slot = NULL;
		int64_t *n = NULL;

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "address") == 0)
			slot = &out->address;
		else if (strcmp(k->str, "list") == 0)
			slot = &out->list;
		else if (strcmp(k->str, "reason") == 0)
			slot = &out->reason;
		else if (strcmp(k->str, "class") == 0)
			slot = &out->class_;
		else if (strcmp(k->str, "source") == 0)
			slot = &out->source;
		else if (strcmp(k->str, "why") == 0)
			slot = &out->why;
		else if (strcmp(k->str, "message_id") == 0)
			slot = &out->message_id;
		else if (strcmp(k->str, "stable_id") == 0)
			slot = &out->stable_id;
		else if (strcmp(k->str, "status") == 0)
			slot = &out->status;
		else if (strcmp(k->str, "rule") == 0)
			slot = &out->rule;
		else if (strcmp(k->str, "event") == 0)
			slot = &out->event_id;
		else if (strcmp(k->str, "first_seen") == 0)
			n = &out->first_seen;
		else if (strcmp(k->str, "last_seen") == 0)
			n = &out->last_seen;
		else if (strcmp(k->str, "count") == 0)
			n = &out->count;
		else if (strcmp(k->str, "expires") == 0)
			n = &out->expires;
		if (slot != NULL) {
			free(*slot);
			*slot = bh_memdup0(v->str, v->len);
		} else if (n != NULL) {
			*n = num(v->str);
		}
	}
	if (out->list != NULL && out->list[0] == '\0')
		bh_free_str(&out->list);
	if (out->address == NULL) {
		bh_suppression_deinit(out);
		return -1;
	}
	return 0;
}

/* get_sup - HGETALL one suppression key: 1 found, 0 not, -1 error */
static int
get_sup(struct bh_store *s, const char *key, struct bh_suppression *out, const char **error_r)
{
	redisReply *r = commandv(s, error_r, "HGETALL", key, (char *)NULL);
	int ret;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		set_err(s, error_r, "redis: HGETALL: %.200s", r->str);
		ret = -1;
	} else {
		ret = parse_sup(r, out) == 0 ? 1 : 0;
	}
	freeReplyObject(r);
	return ret;
}

/* normalize - an operator's address in key form */
static int
normalize(struct bh_store *s, const char *address, char **out_r, const char **error_r)
{
	const char *e;

	if (bh_addr_normalize(address, strlen(address), out_r, &e) == -1) {
		set_err(s, error_r, "invalid address: %s", e);
		return -1;
	}
	return 0;
}

/* bh_store_check - is address suppressed (globally, or in list)? */
int
bh_store_check(struct bh_store *s, const char *address, const char *list,
	       struct bh_suppression *out, const char **error_r)
{
	char *addr = NULL, *key = NULL, *l = list_norm(list);
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (normalize(s, address, &addr, error_r) == -1)
		goto out;
	key = key_sup(s, addr, NULL);
	ret = get_sup(s, key, out, error_r);
	if (ret != 0 || l == NULL)
		goto out;
	free(key);
	key = key_sup(s, addr, l);
	ret = get_sup(s, key, out, error_r);
out:
	free(key);
	free(addr);
	free(l);
	return ret;
}

/* bh_store_show - every suppression of an address */
int
bh_store_show(struct bh_store *s, const char *address, struct bh_suppression **v_r, size_t *n_r,
	      const char **error_r)
{
	struct bh_suppression *v = NULL, one;
	size_t n = 0, i;
	char *addr = NULL, *key = NULL, *idx = NULL;
	redisReply *m = NULL;
	int rc, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (normalize(s, address, &addr, error_r) == -1)
		goto out;
	key = key_sup(s, addr, NULL);
	if ((rc = get_sup(s, key, &one, error_r)) == -1)
		goto out;
	if (rc == 1) {
		v = bh_reallocarray(v, n + 1, sizeof(*v));
		v[n++] = one;
	}
	idx = bh_asprintf("%s:supidx:%s", s->tag, addr);
	if ((m = commandv(s, error_r, "SMEMBERS", idx, (char *)NULL)) == NULL)
		goto out;
	if (m->type != REDIS_REPLY_ARRAY) {
		set_err(s, error_r, "redis: SMEMBERS: unexpected reply");
		goto out;
	}
	for (i = 0; i < m->elements && i < BH_MAX_LISTS; i++) {
		if (m->element[i]->type != REDIS_REPLY_STRING)
			continue;
		free(key);
		key = key_sup(s, addr, m->element[i]->str);
		if ((rc = get_sup(s, key, &one, error_r)) == -1)
			goto out;
		if (rc == 1) {
			v = bh_reallocarray(v, n + 1, sizeof(*v));
			v[n++] = one;
		} else {
			/* The suppression expired: drop the stale index entry. */
			redisReply *x =
			    commandv(s, error_r, "SREM", idx, m->element[i]->str, (char *)NULL);

			if (x == NULL)
				goto out;
			freeReplyObject(x);
		}
	}
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	for (i = 0; i < n; i++)
		bh_suppression_deinit(&v[i]);
	free(v);
	if (m != NULL)
		freeReplyObject(m);
	free(idx);
	free(key);
	free(addr);
	return ret;
}

/* glob_escape - a literal for a SCAN MATCH pattern */
static void
glob_escape(struct bh_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			bh_buf_putc(b, '\\');
		bh_buf_putc(b, *s);
	}
}

/* sup_matches - does a suppression pass the filter? */
static bool
sup_matches(const struct bh_suppression *sup, const struct bh_store_filter *f)
{
	if (f == NULL)
		return true;
	if (f->list != NULL) {
		if (strcmp(f->list, "-") == 0) {
			if (sup->list != NULL)
				return false;
		} else if (sup->list == NULL || strcasecmp(sup->list, f->list) != 0) {
			return false;
		}
	}
	if (f->reason != NULL && (sup->reason == NULL || strcmp(sup->reason, f->reason) != 0))
		return false;
	if (f->since > 0 && sup->last_seen < f->since)
		return false;
	return true;
}

/* bh_store_list - SCAN every suppression key, HGETALL each page in one round trip */
int
bh_store_list(struct bh_store *s, const struct bh_store_filter *f,
	      int (*fn)(const struct bh_suppression *sup, void *ctx), void *ctx,
	      const char **error_r)
{
	static const char *const hgetall[] = {"HGETALL", NULL};
	struct bh_buf pat;
	char *cursor = bh_strdup("0");
	redisReply *r = NULL, *h;
	struct bh_suppression sup;
	int64_t i, sent;
	int ret = -1, stop = 0;

	bh_buf_init(&pat);
	glob_escape(&pat, s->tag);
	bh_buf_puts(&pat, ":sup:*");
	/* Bounded: SCAN ends when the cursor comes back to 0. */
	do {
		r = commandv(s, error_r, "SCAN", cursor, "MATCH", pat.data, "COUNT",
			     STR(SCAN_COUNT), (char *)NULL);
		if (r == NULL)
			goto out;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			set_err(s, error_r, "redis: SCAN: unexpected reply");
			goto out;
		}
		free(cursor);
		cursor = bh_strdup(r->element[0]->str);
		if ((sent = pipeline_send(s, r->element[1], hgetall, 2, error_r)) == -1)
			goto out;
		for (i = 0; i < sent; i++) {
			if ((h = pipeline_reply(s, "HGETALL", error_r)) == NULL)
				goto out;
			if (!stop && parse_sup(h, &sup) == 0) {
				if (sup_matches(&sup, f))
					stop = fn(&sup, ctx);
				bh_suppression_deinit(&sup);
			}
			freeReplyObject(h);
		}
		freeReplyObject(r);
		r = NULL;
	} while (!stop && strcmp(cursor, "0") != 0);
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(cursor);
	bh_buf_deinit(&pat);
	return ret;
}

/* ---- manual changes ---- */

/* manual - run the manual script for add, remove or import (import: add unless suppressed
 * already); reason and source go into the suppression and its event */
static int
manual(struct bh_store *s, const char *op, const char *address, const char *list_arg,
       const char *why, int64_t duration_s, const char *reason, const char *source,
       const char **error_r)
{
	bool add = strcmp(op, "remove") != 0;
	struct args cmd = {0}, sup = {0}, ev = {0};
	char *addr = NULL;
	int64_t now = bh_now();
	redisReply *r = NULL;
	int pass, ret = -1;
	char *list = list_norm(list_arg);
	bool have_list = list != NULL;
	char *k, *user;

	if (normalize(s, address, &addr, error_r) == -1)
		goto out;
	if (why == NULL || why[0] == '\0') {
		set_err(s, error_r, "a manual change needs a reason (--why)");
		goto out;
	}
	kv(&sup, "address", addr);
	kv(&sup, "list", have_list ? list : "");
	kv(&sup, "reason", reason);
	kv(&sup, "class", "manual");
	kv(&sup, "source", source);
	kv_cut(&sup, "why", why, BH_MAX_DIAGNOSTIC);
	kv(&sup, "message_id", "");
	kv(&sup, "stable_id", "");
	kv(&sup, "status", "");
	kv(&sup, "rule", "");
	kv(&ev, "kind",
	   strcmp(op, "import") == 0 ? "import" : (add ? "manual_add" : "manual_remove"));
	kv(&ev, "address", addr);
	kv(&ev, "list", have_list ? list : "");
	kv(&ev, "reason", reason);
	kv(&ev, "outcome", add ? "suppress" : "unsuppress");
	kv_cut(&ev, "why", why, BH_MAX_DIAGNOSTIC);
	kv(&ev, "rules_version", s->rules_version);
	user = bh_operator_name();
	kv(&ev, "user", user);
	free(user);

	for (pass = 0; pass < 2; pass++) {
		if (bh_store_connect(s, error_r) == -1)
			goto out;
		args_add(&cmd, "EVALSHA");
		args_add(&cmd, s->manual_sha);
		args_add(&cmd, "6");
		k = key_sup(s, addr, have_list ? list : NULL);
		args_add(&cmd, k);
		free(k);
		k = key_soft(s, addr, have_list ? list : NULL);
		args_add(&cmd, k);
		free(k);
		args_addf(&cmd, "%s:ev:%s", s->tag, addr);
		args_addf(&cmd, "%s:supidx:%s", s->tag, addr);
		args_addf(&cmd, "%s:events", s->tag);
		args_addf(&cmd, "%s:stats:%lld", s->tag, (long long)(now - now % STATS_BUCKET_S));
		args_add(&cmd, op);
		args_addf(&cmd, "%lld", (long long)now);
		args_addf(&cmd, "%lld",
			  (long long)(s->rc->stream_maxlen > 0 ? s->rc->stream_maxlen : 1000000));
		args_addf(&cmd, "%lld", (long long)duration_s);
		args_add(&cmd, have_list ? list : "");
		args_addf(&cmd, "%d", STATS_TTL_S);
		args_addf(&cmd, "%s\t%s\t%s", have_list ? list : "-", reason,
			  add ? "suppress" : "unsuppress");
		args_addf(&cmd, "%zu", sup.n / 2);
		for (size_t i = 0; i < sup.n; i++)
			args_addn(&cmd, sup.v[i], sup.len[i]);
		args_addf(&cmd, "%zu", ev.n / 2);
		for (size_t i = 0; i < ev.n; i++)
			args_addn(&cmd, ev.v[i], ev.len[i]);
		r = command(s, &cmd, error_r);
		args_deinit(&cmd);
		if (r == NULL)
			goto out;
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
		    pass == 0) {
			freeReplyObject(r);
			r = NULL;
			if (load_script(s, manual_lua, s->manual_sha, error_r) == -1)
				goto out;
			continue;
		}
		break;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		set_err(s, error_r, "redis: manual change: %.200s",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	ret = (int)r->element[0]->integer;
out:
	if (r != NULL)
		freeReplyObject(r);
	args_deinit(&cmd);
	args_deinit(&sup);
	args_deinit(&ev);
	free(addr);
	free(list);
	return ret;
}

/* bh_store_add - suppress address by hand (list NULL: global; duration_s 0: forever); 0 or -1 */
int
bh_store_add(struct bh_store *s, const char *address, const char *list, const char *why,
	     int64_t duration_s, const char **error_r)
{
	if (duration_s < 0) {
		set_err(s, error_r, "negative duration");
		return -1;
	}
	return manual(s, "add", address, list, why, duration_s, "manual", "manual", error_r) == -1
		   ? -1
		   : 0;
}

/* bh_store_remove - lift a suppression by hand: 1 removed, 0 there was none, -1 error */
int
bh_store_remove(struct bh_store *s, const char *address, const char *list, const char *why,
		const char **error_r)
{
	return manual(s, "remove", address, list, why, 0, "manual", "manual", error_r);
}

/* bh_store_import - suppress address unless it already is (an import: source "import") */
int
bh_store_import(struct bh_store *s, const char *address, const char *list, const char *reason,
		const char *why, int64_t duration_s, const char **error_r)
{
	if (duration_s < 0) {
		set_err(s, error_r, "negative duration");
		return -1;
	}
	return manual(s, "import", address, list, why, duration_s,
		      reason != NULL && reason[0] != '\0' ? reason : "manual", "import", error_r);
}

/* ---- events ---- */

/* bh_store_event_get - the value of field name in ev, or NULL; borrowed from ev */
const char *
bh_store_event_get(const struct bh_store_event *ev, const char *name)
{
	size_t i;

	for (i = 0; i < ev->n; i++)
		if (strcmp(ev->kv[2 * i], name) == 0)
			return ev->kv[2 * i + 1];
	return NULL;
}

/* bh_store_events_free - free n events and their fields; accepts v NULL */
void
bh_store_events_free(struct bh_store_event *v, size_t n)
{
	size_t i, j;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].id);
		for (j = 0; j < 2 * v[i].n; j++)
			free(v[i].kv[j]);
		free(v[i].kv);
	}
	free(v);
}

/* parse_event - one stream entry [id, [k, v, ...]]; 0 or -1 when malformed */
static int
parse_event(const redisReply *e, struct bh_store_event *out)
{
	const redisReply *f;
	size_t j;

	memset(out, 0, sizeof(*out));
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
		return -1;
	f = e->element[1];
	out->id = reply_str(e->element[0]);
	out->n = f->elements / 2;
	out->kv = bh_calloc(out->n * 2 + 1, sizeof(char *));
	for (j = 0; j < out->n * 2; j++)
		out->kv[j] = reply_str(f->element[j]);
	return 0;
}

/* append_events - parse an array of stream entries onto *v / *n (reversed when newest_first
 * ordering must be flipped) */
static void
append_events(const redisReply *r, bool reverse, struct bh_store_event **v, size_t *n)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY)
		return;
	*v = bh_reallocarray(*v, *n + r->elements + 1, sizeof(**v));
	for (i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[reverse ? r->elements - 1 - i : i];

		if (parse_event(e, &(*v)[*n]) == 0)
			(*n)++;
	}
}

/* bh_store_explain - the events of one address, newest first */
int
bh_store_explain(struct bh_store *s, const char *address, size_t max, struct bh_store_event **v_r,
		 size_t *n_r, const char **error_r)
{
	char *addr = NULL, *key = NULL, *stream = NULL, stop[32];
	const char *xrange[] = {"XRANGE", NULL, NULL, NULL}; /* XRANGE stream id id: one event */
	redisReply *ids = NULL, *r;
	struct bh_store_event *v = NULL;
	size_t n = 0;
	int64_t i, sent;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (max == 0 || max > MAX_EXPLAIN)
		max = MAX_EXPLAIN;
	if (normalize(s, address, &addr, error_r) == -1)
		goto out;
	key = bh_asprintf("%s:ev:%s", s->tag, addr);
	stream = bh_asprintf("%s:events", s->tag);
	snprintf(stop, sizeof(stop), "%zu", max - 1);
	if ((ids = commandv(s, error_r, "LRANGE", key, "0", stop, (char *)NULL)) == NULL)
		goto out;
	if (ids->type != REDIS_REPLY_ARRAY) {
		set_err(s, error_r, "redis: LRANGE: unexpected reply");
		goto out;
	}
	xrange[1] = stream;
	if ((sent = pipeline_send(s, ids, xrange, 4, error_r)) == -1)
		goto out;
	for (i = 0; i < sent; i++) {
		if ((r = pipeline_reply(s, "XRANGE", error_r)) == NULL)
			goto out;
		/* An event trimmed from the stream since (MAXLEN) comes back empty: skipped. */
		append_events(r, false, &v, &n);
		freeReplyObject(r);
	}
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	bh_store_events_free(v, n);
	if (ids != NULL)
		freeReplyObject(ids);
	free(stream);
	free(key);
	free(addr);
	return ret;
}

/* bh_store_tail - the last n events, oldest first */
int
bh_store_tail(struct bh_store *s, size_t n, struct bh_store_event **v_r, size_t *n_r,
	      const char **error_r)
{
	char *stream = bh_asprintf("%s:events", s->tag), count[32];
	redisReply *r;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	snprintf(count, sizeof(count), "%zu", n == 0 ? (size_t)10 : n);
	r = commandv(s, error_r, "XREVRANGE", stream, "+", "-", "COUNT", count, (char *)NULL);
	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY) {
		set_err(s, error_r, "redis: XREVRANGE: %.200s",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	append_events(r, true, v_r, n_r);
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(stream);
	return ret;
}

/* bh_store_follow - block for events after *last_id */
int
bh_store_follow(struct bh_store *s, char **last_id, int64_t block_ms, struct bh_store_event **v_r,
		size_t *n_r, const char **error_r)
{
	char *stream = bh_asprintf("%s:events", s->tag), block[32];
	redisReply *r;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	/* The block must end before the command timeout, or hiredis gives up on the context. */
	if (block_ms <= 0 || block_ms > s->rc->command_timeout_ms / 2)
		block_ms = s->rc->command_timeout_ms / 2 > 0 ? s->rc->command_timeout_ms / 2 : 1;
	snprintf(block, sizeof(block), "%lld", (long long)block_ms);
	r = commandv(s, error_r, "XREAD", "COUNT", "1000", "BLOCK", block, "STREAMS", stream,
		     *last_id, (char *)NULL);
	if (r == NULL)
		goto out;
	if (r->type == REDIS_REPLY_NIL) {
		ret = 0;
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2) {
		set_err(s, error_r, "redis: XREAD: %.200s",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	append_events(r->element[0]->element[1], false, v_r, n_r);
	if (*n_r > 0) {
		free(*last_id);
		*last_id = bh_strdup((*v_r)[*n_r - 1].id);
	}
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(stream);
	return ret;
}

/* ---- stats and health ---- */

/* bh_store_stats_free - free n stat rows and their strings; accepts v NULL */
void
bh_store_stats_free(struct bh_store_stat *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].list);
		free(v[i].reason);
		free(v[i].outcome);
	}
	free(v);
}

/* stat_cmp - by list, reason, outcome */
static int
stat_cmp(const void *a, const void *b)
{
	const struct bh_store_stat *x = a, *y = b;
	int c;

	if ((c = strcmp(x->list, y->list)) != 0)
		return c;
	if ((c = strcmp(x->reason, y->reason)) != 0)
		return c;
	return strcmp(x->outcome, y->outcome);
}

/* stat_add - add count to the row of a "list\treason\toutcome" field */
static void
stat_add(struct bh_store_stat **v, size_t *n, const char *field, int64_t count, bool in_hour)
{
	const char *t1 = strchr(field, '\t'), *t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
	size_t i;

	if (t2 == NULL)
		return;
	for (i = 0; i < *n; i++) {
		struct bh_store_stat *st = &(*v)[i];

		if (strlen(st->list) == (size_t)(t1 - field) &&
		    strncmp(st->list, field, (size_t)(t1 - field)) == 0 &&
		    strlen(st->reason) == (size_t)(t2 - t1 - 1) &&
		    strncmp(st->reason, t1 + 1, (size_t)(t2 - t1 - 1)) == 0 &&
		    strcmp(st->outcome, t2 + 1) == 0)
			break;
	}
	if (i == *n) {
		*v = bh_reallocarray(*v, *n + 1, sizeof(**v));
		(*v)[i].list = bh_strndup(field, (size_t)(t1 - field));
		(*v)[i].reason = bh_strndup(t1 + 1, (size_t)(t2 - t1 - 1));
		(*v)[i].outcome = bh_strdup(t2 + 1);
		(*v)[i].hour = 0;
		(*v)[i].day = 0;
		(*n)++;
	}
	(*v)[i].day += count;
	if (in_hour)
		(*v)[i].hour += count;
}

/* bh_store_stats - sum the 5-minute buckets of the last day */
int
bh_store_stats(struct bh_store *s, struct bh_store_stat **v_r, size_t *n_r, const char **error_r)
{
	int64_t now = bh_now(), cur = now - now % STATS_BUCKET_S, b;
	size_t nb = 86400 / STATS_BUCKET_S + 1, i, j, n = 0;
	struct bh_store_stat *v = NULL;
	redisReply *r;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (bh_store_connect(s, error_r) == -1)
		return -1;
	for (i = 0; i < nb; i++) {
		b = cur - (int64_t)i * STATS_BUCKET_S;
		if (redisAppendCommand(s->ctx, "HGETALL %s:stats:%lld", s->tag, (long long)b) !=
		    REDIS_OK) {
			transport_err(s, error_r, "HGETALL");
			goto out;
		}
	}
	for (i = 0; i < nb; i++) {
		/* The current bucket is partial; "last hour" is the buckets that started within
		 * the hour (55 to 60 minutes, at 5-minute granularity). */
		bool in_hour = (int64_t)i * STATS_BUCKET_S < 3600;

		if ((r = pipeline_reply(s, "HGETALL", error_r)) == NULL)
			goto out;
		if (r->type == REDIS_REPLY_ARRAY)
			for (j = 0; j + 1 < r->elements; j += 2)
				if (r->element[j]->type == REDIS_REPLY_STRING &&
				    r->element[j + 1]->type == REDIS_REPLY_STRING)
					stat_add(&v, &n, r->element[j]->str,
						 num(r->element[j + 1]->str), in_hour);
		freeReplyObject(r);
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), stat_cmp);
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	bh_store_stats_free(v, n);
	return ret;
}

/* bh_store_ping - one PING (a kept connection that died while idle gets one fresh attempt) */
int
bh_store_ping(struct bh_store *s, const char **error_r)
{
	redisReply *r;
	bool reused = s->ctx != NULL;

	if ((r = commandv(s, error_r, "PING", (char *)NULL)) == NULL) {
		if (!reused)
			return -1;
		s->next_try_ms = 0;
		if ((r = commandv(s, error_r, "PING", (char *)NULL)) == NULL)
			return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		set_err(s, error_r, "redis: PING: %.200s", r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* bh_store_health - PING, version and key count */
int
bh_store_health(struct bh_store *s, char **info_r, const char **error_r)
{
	redisReply *r;
	char version[32] = "?";
	long long keys = -1;
	const char *p;

	*info_r = NULL;
	if (bh_store_ping(s, error_r) == -1)
		return -1;
	if ((r = commandv(s, error_r, "INFO", "server", (char *)NULL)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "redis_version:")) != NULL)
		sscanf(p + 14, "%31[0-9.]", version);
	freeReplyObject(r);
	if ((r = commandv(s, error_r, "DBSIZE", (char *)NULL)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		keys = r->integer;
	freeReplyObject(r);
	*info_r = bh_asprintf("redis %s %s db=%d keys=%lld%s", version, s->addr, s->rc->db, keys,
			      s->rc->n_sentinels > 0 ? " (master from the sentinels)" : "");
	return 0;
}

/* ---- suppression counters (SUPCOUNT_LUA, docs/redis.md) ---- */

/*
 * The counts script: prune up to ARGV[2] due members of {p}:supexp at time ARGV[1], then, when
 * none is left due, the counter hash. KEYS: {p}:supcount, {p}:supexp. Returns {0} (call again:
 * more are due) or {1, HGETALL}.
 */
/* clang-format off */
static const char counts_lua[] = SUPCOUNT_LUA
	"local P = string.sub(KEYS[1], 1, #KEYS[1] - 8)\n" /* "{p}:supcount" */
	"local max = tonumber(ARGV[2])\n"
	"if bh_prune(P, tonumber(ARGV[1]), max) >= max then return {0} end\n"
	"return {1, redis.call('HGETALL', KEYS[1])}\n";
/* clang-format on */

#define COUNTS_PRUNE  "1000"
#define COUNTS_ROUNDS 100000 /* 1e8 expired members at most before giving up */
#define RECOUNT_CHUNK 1000

/* bh_store_supcounts_free - free n counter rows and their strings; accepts v NULL */
void
bh_store_supcounts_free(struct bh_store_supcount *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].list);
		free(v[i].reason);
	}
	free(v);
}

/* supcount_cmp - by list, then reason */
static int
supcount_cmp(const void *a, const void *b)
{
	const struct bh_store_supcount *x = a, *y = b;
	int c = strcmp(x->list, y->list);

	return c != 0 ? c : strcmp(x->reason, y->reason);
}

/* supcount_add - add n to the row of (list, reason), making it when new */
static void
supcount_add(struct bh_store_supcount **v, size_t *nv, const char *list, size_t ll,
	     const char *reason, int64_t n)
{
	size_t i;

	for (i = 0; i < *nv; i++)
		if (strlen((*v)[i].list) == ll && strncmp((*v)[i].list, list, ll) == 0 &&
		    strcmp((*v)[i].reason, reason) == 0)
			break;
	if (i == *nv) {
		*v = bh_reallocarray(*v, *nv + 1, sizeof(**v));
		(*v)[i].list = bh_strndup(list, ll);
		(*v)[i].reason = bh_strdup(reason);
		(*v)[i].n = 0;
		(*nv)++;
	}
	(*v)[i].n += n;
}

/* bh_store_sup_counts - the current totals from {p}:supcount, after pruning what expired */
int
bh_store_sup_counts(struct bh_store *s, struct bh_store_supcount **v_r, size_t *n_r,
		    int64_t *complete_r, const char **error_r)
{
	struct bh_store_supcount *v = NULL;
	redisReply *r = NULL;
	size_t n = 0, i;
	int round, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	*complete_r = 0;
	for (round = 0; round < COUNTS_ROUNDS; round++) {
		struct args a = {0};

		args_add(&a, "EVAL");
		args_add(&a, counts_lua);
		args_add(&a, "2");
		args_addf(&a, "%s:supcount", s->tag);
		args_addf(&a, "%s:supexp", s->tag);
		args_addf(&a, "%lld", (long long)bh_now());
		args_add(&a, COUNTS_PRUNE);
		r = command(s, &a, error_r);
		args_deinit(&a);
		if (r == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
		    r->element[0]->type != REDIS_REPLY_INTEGER) {
			set_err(s, error_r, "redis: counts: %.200s",
				r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			goto out;
		}
		if (r->element[0]->integer == 1)
			break;
		freeReplyObject(r);
		r = NULL;
	}
	if (r == NULL || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
		set_err(s, error_r, "redis: counts: too many expired suppressions to prune");
		goto out;
	}
	for (i = 0; i + 1 < r->element[1]->elements; i += 2) {
		const redisReply *k = r->element[1]->element[i], *c = r->element[1]->element[i + 1];
		const char *tab;

		if (k->type != REDIS_REPLY_STRING || c->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "_complete") == 0) {
			*complete_r = num(c->str);
			continue;
		}
		if ((tab = strrchr(k->str, '\t')) == NULL || num(c->str) <= 0)
			continue;
		supcount_add(&v, &n, k->str, (size_t)(tab - k->str), tab + 1, num(c->str));
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), supcount_cmp);
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	bh_store_supcounts_free(v, n);
	return ret;
}

/* What a recount gathers while walking the suppressions. */
struct recount {
	struct bh_store *s;
	struct bh_store_supcount *v;
	size_t n;
	struct args zadd; /* score, member pairs of {p}:supexp */
	int64_t total;
};

/* recount_row - count one suppression; remember its expiry */
static int
recount_row(const struct bh_suppression *sup, void *ctx)
{
	struct recount *rc = ctx;
	const char *list = sup->list != NULL ? sup->list : "-";
	const char *reason = sup->reason != NULL ? sup->reason : "-";

	supcount_add(&rc->v, &rc->n, list, strlen(list), reason, 1);
	rc->total++;
	if (sup->expires > 0) {
		char *k = key_sup(rc->s, sup->address, sup->list);

		args_addf(&rc->zadd, "%lld", (long long)sup->expires);
		args_addf(&rc->zadd, "%s\t%s\t%s", list, reason, k);
		free(k);
	}
	return 0;
}

/* run_ok - run a command and require a non-error reply; 0 or -1 */
static int
run_ok(struct bh_store *s, struct args *a, const char **error_r)
{
	redisReply *r = command(s, a, error_r);
	int ret = 0;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		set_err(s, error_r, "redis: %s: %.200s", a->v[0], r->str);
		ret = -1;
	}
	freeReplyObject(r);
	return ret;
}

/* bh_store_sup_recount - rebuild the counters from every suppression (SCAN) */
int
bh_store_sup_recount(struct bh_store *s, int64_t *total_r, const char **error_r)
{
	struct recount rc = {s, NULL, 0, {0}, 0};
	struct args a = {0};
	size_t i, j;
	int ret = -1;

	*total_r = 0;
	if (bh_store_list(s, NULL, recount_row, &rc, error_r) == -1)
		goto out;
	args_add(&a, "DEL");
	args_addf(&a, "%s:supcount", s->tag);
	args_addf(&a, "%s:supexp", s->tag);
	if (run_ok(s, &a, error_r) == -1)
		goto out;
	args_deinit(&a);
	args_add(&a, "HSET");
	args_addf(&a, "%s:supcount", s->tag);
	for (i = 0; i < rc.n; i++) {
		args_addf(&a, "%s\t%s", rc.v[i].list, rc.v[i].reason);
		args_addf(&a, "%lld", (long long)rc.v[i].n);
	}
	args_add(&a, "_complete");
	args_addf(&a, "%lld", (long long)bh_now());
	if (run_ok(s, &a, error_r) == -1)
		goto out;
	args_deinit(&a);
	for (i = 0; i < rc.zadd.n; i += 2 * RECOUNT_CHUNK) {
		args_add(&a, "ZADD");
		args_addf(&a, "%s:supexp", s->tag);
		for (j = i; j < rc.zadd.n && j < i + 2 * RECOUNT_CHUNK; j++)
			args_addn(&a, rc.zadd.v[j], rc.zadd.len[j]);
		if (run_ok(s, &a, error_r) == -1)
			goto out;
		args_deinit(&a);
	}
	*total_r = rc.total;
	ret = 0;
out:
	args_deinit(&a);
	args_deinit(&rc.zadd);
	bh_store_supcounts_free(rc.v, rc.n);
	return ret;
}

/* ---- soft-bounce windows (explain) ---- */

/* bh_store_soft_free - free n windows and their strings; accepts v NULL */
void
bh_store_soft_free(struct bh_store_soft *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].list);
		free(v[i].times);
	}
	free(v);
}

/* soft_one - read one soft window key: 1 with *w filled (not list), 0 empty, -1 error */
static int
soft_one(struct bh_store *s, const char *key, struct bh_store_soft *w, const char **error_r)
{
	redisReply *r = commandv(s, error_r, "ZRANGE", key, "0", "999", "WITHSCORES", (char *)NULL);
	size_t i;
	int ret = -1;

	memset(w, 0, sizeof(*w));
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		set_err(s, error_r, "redis: ZRANGE: %.200s",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	ret = 0;
	if (r->elements < 2)
		goto out;
	w->times = bh_calloc(r->elements / 2 + 1, sizeof(*w->times));
	for (i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i + 1]->type == REDIS_REPLY_STRING)
			w->times[w->n++] = (int64_t)strtod(r->element[i + 1]->str, NULL);
	freeReplyObject(r);
	if ((r = commandv(s, error_r, "TTL", key, (char *)NULL)) == NULL) {
		ret = -1;
		goto out;
	}
	w->ttl_s = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	ret = w->n > 0 ? 1 : 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	if (ret != 1) {
		free(w->times);
		w->times = NULL;
	}
	return ret;
}

/* bh_store_soft - the soft-bounce windows of address: global, then each of lists */
int
bh_store_soft(struct bh_store *s, const char *address, const char *const *lists, size_t n_lists,
	      struct bh_store_soft **v_r, size_t *n_r, const char **error_r)
{
	struct bh_store_soft *v = NULL, w;
	char *addr = NULL, *key, *l;
	size_t n = 0, i;
	int rc, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (normalize(s, address, &addr, error_r) == -1)
		return -1;
	v = bh_calloc(n_lists + 2, sizeof(*v));
	for (i = 0; i <= n_lists; i++) {
		l = i == 0 ? NULL : list_norm(lists[i - 1]);
		if (i > 0 && l == NULL)
			continue;
		key = key_soft(s, addr, l);
		rc = soft_one(s, key, &w, error_r);
		free(key);
		if (rc == -1) {
			free(l);
			goto out;
		}
		if (rc == 1) {
			w.list = l;
			v[n++] = w;
		} else {
			free(l);
		}
	}
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	bh_store_soft_free(v, n);
	free(addr);
	return ret;
}
