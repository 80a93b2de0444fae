"""Lua scripts for leases and fenced writes.

A lease names the owning node instance and carries a fencing epoch taken from a counter that only
grows. Every write an actor makes to Redis goes through :data:`FENCED` and is refused unless the
counter still equals the actor's epoch, so an owner that was paused past its lease (and replaced)
cannot write. PostgreSQL writes are fenced the same way against ``actor_epochs`` (see
:meth:`ActorContext.fenced_transaction`).
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "FENCED", "RELEASE", "RENEW"]

# KEYS: lease, epoch. ARGV: instance, ttl_ms, min_epoch.
# Returns {1, epoch} when this instance now holds the lease, {0, epoch, holder} when another does.
# The lease's value is a LeaseValue (lago_core/actor_messages.py), "<instance>|<epoch>", built and
# split here because the epoch is taken inside the script; the two must agree.
ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  local holder = string.sub(cur, 1, sep - 1)
  local ep = tonumber(string.sub(cur, sep + 1))
  return {0, ep, holder}
end
local e = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if e < floor then
  e = floor
  redis.call('SET', KEYS[2], e)
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. e, 'PX', ARGV[2])
return {1, e}
"""

# KEYS: lease. ARGV: "instance|epoch", ttl_ms. Returns 1 when renewed, 0 when the lease is lost.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease. ARGV: "instance|epoch".
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1]: epoch counter; KEYS[2..]: the keys the operation touches. ARGV[1]: the actor's epoch,
# ARGV[2]: operation, ARGV[3..]: its arguments.
#   append  KEYS stream, meta   ARGV maxlen, live-channel, new-stream-epoch, publish command
#                               (PUBLISH, or SPUBLISH on a sharding cluster: the channel shares
#                               the keys' hash tag, so its slot), then seq1, payload1, seq2, ...
#           -> for each event in order XADD with id 0-<seq> (Redis refuses a seq that does not
#              grow), then PUBLISH each: one round trip for a batch, whose events reach every
#              node's subscriber together; a third key, if given, is deleted afterwards
#              (presence's pending set, in the same call)
#   hset    KEYS hash           ARGV field, value
#   hdel    KEYS hash           ARGV field...
#   set     KEYS key            ARGV value
#   sadd    KEYS set            ARGV member...
#   del     KEYS key
#   hset_touch  KEYS hash, set  ARGV field, value, member...   HSET and SADD in one write
#   hset_many_touch  KEYS hash, set  ARGV n, field1, value1..fieldn, valuen, member...
#                                    n fields in one HSET, and SADD of the members if any
#   hdel_touch  KEYS hash, set  ARGV n, field1..fieldn, member...   HDEL and SADD in one write
FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is no longer current')
end
local op = ARGV[2]
if op == 'append' then
  redis.call('HSETNX', KEYS[3], 'epoch', ARGV[5])
  for i = 7, #ARGV, 2 do
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '0-' .. ARGV[i], 'e', ARGV[i + 1])
  end
  for i = 7, #ARGV, 2 do
    redis.call(ARGV[6], ARGV[4], ARGV[i + 1])
  end
  if KEYS[4] then
    redis.call('DEL', KEYS[4])
  end
  return 1
elseif op == 'hset' then
  return redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
elseif op == 'hdel' then
  return redis.call('HDEL', KEYS[2], unpack(ARGV, 3))
elseif op == 'set' then
  return redis.call('SET', KEYS[2], ARGV[3])
elseif op == 'sadd' then
  return redis.call('SADD', KEYS[2], unpack(ARGV, 3))
elseif op == 'del' then
  return redis.call('DEL', KEYS[2])
elseif op == 'hset_touch' then
  redis.call('SADD', KEYS[3], unpack(ARGV, 5))
  return redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
elseif op == 'hset_many_touch' then
  local n = tonumber(ARGV[3])
  if #ARGV > 3 + 2 * n then
    redis.call('SADD', KEYS[3], unpack(ARGV, 4 + 2 * n))
  end
  return redis.call('HSET', KEYS[2], unpack(ARGV, 4, 3 + 2 * n))
elseif op == 'hdel_touch' then
  local n = tonumber(ARGV[3])
  redis.call('SADD', KEYS[3], unpack(ARGV, 4 + n))
  return redis.call('HDEL', KEYS[2], unpack(ARGV, 4, 3 + n))
end
return redis.error_reply('unknown fenced operation ' .. op)
"""
