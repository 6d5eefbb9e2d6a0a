//! The Lua scripts that make each mailbox operation atomic on the Redis side.
//!
//! Every script touches only the keys of one mailbox (one hash tag, so one
//! Cluster slot) and receives all of them in `KEYS`, as Redis Cluster
//! requires. Layout of a mailbox `{H}` (H = hex of the 32-byte id):
//!
//! - `cairn:{H}:mb` hash: `k` auth key, `c` created, `n` envelopes, `b` bytes, `s` last seq,
//!   `l` send lock (SHA-256 of the send key; absent for an open mailbox)
//! - `cairn:{H}:q`  sorted set: message id scored by seq (delivery order, dedupe)
//! - `cairn:{H}:m`  hash: message id → envelope
//! - `cairn:{H}:x`  sorted set: message id scored by expiry (unix seconds)
//!
//! KEYS order for every mailbox script: mb, q, m, x.

use redis::Script;

/// Creates the mailbox record unless it exists. ARGV: auth key, now, send
/// lock (empty: an open mailbox). Returns 1 if created.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'k', ARGV[1], 'c', ARGV[2], 'n', 0, 'b', 0, 's', 0)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'l', ARGV[3]) end
return 1
";

/// Stores a batch of envelopes for one mailbox, in order, enforcing quotas
/// and dedupe, and publishes each stored one.
/// ARGV: max count, max bytes, publish command (PUBLISH or SPUBLISH),
/// channel, then per envelope: message id, envelope, expires_at, the lock
/// of the send key presented (empty: a plain `Send`).
/// Returns {-1} if there is no mailbox, else per envelope a pair
/// {0, seq} stored, {1, seq} duplicate (same id already stored, also
/// earlier in this batch), {-2, 0} quota full, {-3, 0} the mailbox is
/// send-locked and the lock presented is missing or wrong (checked first,
/// with a comparison whose time does not depend on where the bytes differ;
/// the mailbox's lock is read with its counters, in the same `HMGET`).
/// Everything the call stored is published as one message on the live
/// channel: per envelope the 16-byte message id, the envelope's length
/// (u32, big-endian) and the envelope, in storage order.
const APPEND: &str = r"
local u = redis.call('HMGET', KEYS[1], 'n', 'b', 's', 'k', 'l')
if not u[4] then return {-1} end
local lock = u[5]
local function opens(sent)
  if #sent ~= #lock then return false end
  local d = 0
  for j = 1, #lock do
    d = bit.bor(d, bit.bxor(string.byte(lock, j), string.byte(sent, j)))
  end
  return d == 0
end
local n = tonumber(u[1]) or 0
local b = tonumber(u[2]) or 0
local seq = tonumber(u[3]) or 0
local maxn = tonumber(ARGV[1])
local maxb = tonumber(ARGV[2])
local out = {}
local live = {}
local stored = 0
for i = 5, #ARGV, 4 do
  local id = ARGV[i]
  local refused = lock and not opens(ARGV[i + 3])
  local old = (not refused) and redis.call('ZSCORE', KEYS[2], id)
  if refused then
    out[#out + 1] = -3
    out[#out + 1] = 0
  elseif old then
    out[#out + 1] = 1
    out[#out + 1] = tonumber(old)
  else
    local env = ARGV[i + 1]
    local len = string.len(env)
    if n >= maxn or b + len > maxb then
      out[#out + 1] = -2
      out[#out + 1] = 0
    else
      seq = seq + 1
      n = n + 1
      b = b + len
      stored = stored + 1
      redis.call('ZADD', KEYS[2], seq, id)
      redis.call('ZADD', KEYS[4], ARGV[i + 2], id)
      redis.call('HSET', KEYS[3], id, env)
      live[#live + 1] = id
      live[#live + 1] = struct.pack('>I4', len)
      live[#live + 1] = env
      out[#out + 1] = 0
      out[#out + 1] = seq
    end
  end
end
if stored > 0 then
  redis.call('HSET', KEYS[1], 'n', n, 'b', b, 's', seq)
  redis.call(ARGV[3], ARGV[4], table.concat(live))
end
return out
";

/// Deletes envelopes of one mailbox. ARGV: message ids. Returns how many were there.
const ACK: &str = r"
local n, bytes = 0, 0
for _, id in ipairs(ARGV) do
  if redis.call('ZSCORE', KEYS[2], id) then
    bytes = bytes + redis.call('HSTRLEN', KEYS[3], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[3], id)
    n = n + 1
  end
end
if n > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'n', -n)
  redis.call('HINCRBY', KEYS[1], 'b', -bytes)
end
return n
";

/// Up to `limit` unexpired envelopes after a seq. ARGV: after, limit, now.
/// Returns a flat array seq, envelope, seq, envelope…
const FETCH: &str = r"
local out = {}
local limit = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cursor = '(' .. ARGV[1]
while #out < 2 * limit do
  local ids = redis.call('ZRANGE', KEYS[2], cursor, '+inf', 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
  if #ids == 0 then break end
  for i = 1, #ids, 2 do
    local exp = tonumber(redis.call('ZSCORE', KEYS[4], ids[i]))
    if exp and exp > now and #out < 2 * limit then
      out[#out + 1] = ids[i + 1]
      out[#out + 1] = redis.call('HGET', KEYS[3], ids[i])
    end
    cursor = '(' .. ids[i + 1]
  end
  if #ids < 2 * limit then break end
end
return out
";

/// Deletes up to `limit` envelopes expired at `now`. ARGV: now, limit. Returns how many.
const PURGE: &str = r"
local ids = redis.call('ZRANGE', KEYS[4], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
local bytes = 0
for _, id in ipairs(ids) do
  bytes = bytes + redis.call('HSTRLEN', KEYS[3], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[4], id)
end
if #ids > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'n', -#ids)
  redis.call('HINCRBY', KEYS[1], 'b', -bytes)
end
return #ids
";

/// Deletes a mailbox and everything in it, and if it existed publishes an
/// empty message on its live channel (subscriptions to it end on every
/// instance). ARGV: publish command (PUBLISH or SPUBLISH), channel.
/// Returns 1 if it existed.
const DELETE: &str = r"
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if existed == 1 then redis.call(ARGV[1], ARGV[2], '') end
return existed
";

/// Marks every token record with public id ARGV[1] revoked. KEYS: the token hash.
/// Records are `id role created expires revoked label` (the label may be
/// empty, or missing in records made before labels). Returns 1 if one was found.
const REVOKE_TOKEN: &str = r"
local all = redis.call('HGETALL', KEYS[1])
local found = 0
for i = 1, #all, 2 do
  local id, role, created, expires, label = string.match(all[i + 1], '^(%S+) (%S+) (%S+) (%S+) %S+ ?(%S*)$')
  if id == ARGV[1] then
    redis.call('HSET', KEYS[1], all[i], id .. ' ' .. role .. ' ' .. created .. ' ' .. expires .. ' 1 ' .. label)
    found = 1
  end
end
return found
";

/// The loaded scripts (hashed once; sent with EVALSHA, loaded on demand).
pub(super) struct Scripts {
    pub create: Script,
    pub append: Script,
    pub ack: Script,
    pub fetch: Script,
    pub purge: Script,
    pub delete: Script,
    pub revoke_token: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            create: Script::new(CREATE),
            append: Script::new(APPEND),
            ack: Script::new(ACK),
            fetch: Script::new(FETCH),
            purge: Script::new(PURGE),
            delete: Script::new(DELETE),
            revoke_token: Script::new(REVOKE_TOKEN),
        }
    }
}
