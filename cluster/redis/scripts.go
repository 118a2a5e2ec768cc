package redis

import "github.com/redis/go-redis/v9"

// The Lua scripts that make multi-key changes atomic. Every script takes the
// key prefix as ARGV[1] and builds its keys from it (so this works on one
// Redis server, with or without replicas, not on Redis Cluster). Time is the
// server's (TIME), so the nodes' clocks may disagree. Numbers are
// concatenated with string.format('%d'), since Lua's tostring would write
// Unix milliseconds in exponent notation.
//
// Keys, under the prefix P:
//
//	P nodes                 zset  node → alive until (ms)
//	P op:<id>               hash  node, depts (comma-separated), json
//	P dept:<d>:ops          set   operator ids
//	P node:<n>:ops          set   operator ids put by the node
//	P load:<op>             zset  chat id → slot expiry (ms, +inf: none)
//	P conn:<kind>:<id>      hash  conn id → node
//	P node:<n>:conns        set   "<kind>:<id>\n<conn id>"
//	P visitor:<conn>        hash  node, dept, json
//	P visitors              set   conn ids
//	P dept:<d>:visitors     set   conn ids
//	P node:<n>:visitors     set   conn ids
//	P lease:<key>           hash  node, token; expires with the lease (PEXPIRE)
//	P fence                 int   last fencing token granted (one counter for all keys)
//	P chat:<id>:nodes       set   nodes joined to the chat's bus traffic
//	P node:<n>:chats        set   chats the node joined
//
// Channels: P ch:node:<n> (the node's bus traffic) and P ch:events.
const luaNow = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function alive(P, node, now)
  local s = redis.call('ZSCORE', P .. 'nodes', node)
  return s and tonumber(s) > now
end
`

// heartbeat: ARGV P, node, ttl ms → 1 if the node was alive before, else 0.
var heartbeatScript = redis.NewScript(luaNow + `
local P, node, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local was = alive(P, node, now)
redis.call('ZADD', P .. 'nodes', now + ttl, node)
if was then return 1 end
return 0
`)

// sweep: ARGV P[, node] → how many nodes it removed: the dead ones, or
// the given one (Leave), with everything they held.
var sweepScript = redis.NewScript(luaNow + `
local P = ARGV[1]
local now = now_ms()
local dead
if ARGV[2] then
  dead = {ARGV[2]}
else
  dead = redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', now, 'LIMIT', 0, 100)
end
for _, n in ipairs(dead) do
  local nk = P .. 'node:' .. n
  for _, id in ipairs(redis.call('SMEMBERS', nk .. ':ops')) do
    local k = P .. 'op:' .. id
    local v = redis.call('HMGET', k, 'node', 'depts', 'json')
    if v[1] == n then
      redis.call('DEL', k)
      for d in string.gmatch(v[2] or '', '[^,]+') do
        redis.call('SREM', P .. 'dept:' .. d .. ':ops', id)
      end
      redis.call('PUBLISH', P .. 'ch:events', '{"kind":"operator.gone","expired":true,"operator":' .. v[3] .. '}')
    end
  end
  for _, c in ipairs(redis.call('SMEMBERS', nk .. ':conns')) do
    local i = string.find(c, '\n', 1, true)
    local ck = P .. 'conn:' .. string.sub(c, 1, i - 1)
    local cid = string.sub(c, i + 1)
    if redis.call('HGET', ck, cid) == n then
      redis.call('HDEL', ck, cid)
    end
  end
  for _, cid in ipairs(redis.call('SMEMBERS', nk .. ':visitors')) do
    local vk = P .. 'visitor:' .. cid
    local v = redis.call('HMGET', vk, 'node', 'dept')
    if v[1] == n then
      redis.call('DEL', vk)
      redis.call('SREM', P .. 'visitors', cid)
      redis.call('SREM', P .. 'dept:' .. v[2] .. ':visitors', cid)
    end
  end
  for _, chat in ipairs(redis.call('SMEMBERS', nk .. ':chats')) do
    redis.call('SREM', P .. 'chat:' .. chat .. ':nodes', n)
  end
  redis.call('DEL', nk .. ':ops', nk .. ':conns', nk .. ':visitors', nk .. ':chats')
  redis.call('ZREM', P .. 'nodes', n)
  redis.call('PUBLISH', P .. 'ch:events', '{"kind":"node.down","node":' .. cjson.encode(n) .. '}')
end
return #dead
`)

// putOperator: ARGV P, node, id, depts, json.
var putOperatorScript = redis.NewScript(`
local P, node, id, depts, json = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = P .. 'op:' .. id
local old = redis.call('HMGET', k, 'node', 'depts')
if old[1] then
  if old[1] ~= node then
    redis.call('SREM', P .. 'node:' .. old[1] .. ':ops', id)
  end
  for d in string.gmatch(old[2] or '', '[^,]+') do
    redis.call('SREM', P .. 'dept:' .. d .. ':ops', id)
  end
end
redis.call('HSET', k, 'node', node, 'depts', depts, 'json', json)
redis.call('SADD', P .. 'node:' .. node .. ':ops', id)
for d in string.gmatch(depts, '[^,]+') do
  redis.call('SADD', P .. 'dept:' .. d .. ':ops', id)
end
redis.call('PUBLISH', P .. 'ch:events', '{"kind":"operator.put","operator":' .. json .. '}')
return 1
`)

// removeOperator: ARGV P, node, id → 1 if removed.
var removeOperatorScript = redis.NewScript(`
local P, node, id = ARGV[1], ARGV[2], ARGV[3]
local k = P .. 'op:' .. id
local v = redis.call('HMGET', k, 'node', 'depts', 'json')
if v[1] ~= node then return 0 end
redis.call('DEL', k)
redis.call('SREM', P .. 'node:' .. node .. ':ops', id)
for d in string.gmatch(v[2] or '', '[^,]+') do
  redis.call('SREM', P .. 'dept:' .. d .. ':ops', id)
end
redis.call('PUBLISH', P .. 'ch:events', '{"kind":"operator.gone","operator":' .. v[3] .. '}')
return 1
`)

// operators: ARGV P, 'dept', d | P, 'ids', id... → the JSON of the live ones.
var operatorsScript = redis.NewScript(luaNow + `
local P = ARGV[1]
local now = now_ms()
local ids = {}
if ARGV[2] == 'dept' then
  ids = redis.call('SMEMBERS', P .. 'dept:' .. ARGV[3] .. ':ops')
else
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', P .. 'op:' .. id, 'node', 'json')
  if v[1] and alive(P, v[1], now) then out[#out + 1] = v[2] end
end
return out
`)

// reserve: ARGV P, op, chat, capacity, ttl ms (0: none) → 1 if reserved.
var reserveScript = redis.NewScript(luaNow + `
local P, op, chat, cap, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local k = P .. 'load:' .. op
redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
local exp = '+inf'
if ttl > 0 then exp = string.format('%d', now + ttl) end
if not redis.call('ZSCORE', k, chat) and redis.call('ZCARD', k) >= cap then
  return 0
end
redis.call('ZADD', k, exp, chat)
return 1
`)

// load: ARGV P, op... → the live slot count of each.
var loadScript = redis.NewScript(luaNow + `
local P = ARGV[1]
local now = now_ms()
local out = {}
for i = 2, #ARGV do
  local k = P .. 'load:' .. ARGV[i]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  out[#out + 1] = redis.call('ZCARD', k)
end
return out
`)

// resetLoad: ARGV P, op, chat... : the slots without expiry become chats.
var resetLoadScript = redis.NewScript(`
local P, op = ARGV[1], ARGV[2]
local k = P .. 'load:' .. op
redis.call('ZREMRANGEBYSCORE', k, '+inf', '+inf')
for i = 3, #ARGV do redis.call('ZADD', k, '+inf', ARGV[i]) end
return 1
`)

// connNodes: ARGV P, kind:id → the live nodes holding a connection.
var connNodesScript = redis.NewScript(luaNow + `
local P = ARGV[1]
local now = now_ms()
local seen, out = {}, {}
for _, n in ipairs(redis.call('HVALS', P .. 'conn:' .. ARGV[2])) do
  if not seen[n] and alive(P, n, now) then
    seen[n] = true
    out[#out + 1] = n
  end
end
return out
`)

// putVisitor: ARGV P, node, conn, dept, json.
var putVisitorScript = redis.NewScript(`
local P, node, cid, dept, json = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = P .. 'visitor:' .. cid
local old = redis.call('HMGET', k, 'node', 'dept')
if old[2] and old[2] ~= dept then
  redis.call('SREM', P .. 'dept:' .. old[2] .. ':visitors', cid)
end
if old[1] and old[1] ~= node then
  redis.call('SREM', P .. 'node:' .. old[1] .. ':visitors', cid)
end
redis.call('HSET', k, 'node', node, 'dept', dept, 'json', json)
redis.call('SADD', P .. 'visitors', cid)
redis.call('SADD', P .. 'dept:' .. dept .. ':visitors', cid)
redis.call('SADD', P .. 'node:' .. node .. ':visitors', cid)
return 1
`)

// removeVisitor: ARGV P, conn.
var removeVisitorScript = redis.NewScript(`
local P, cid = ARGV[1], ARGV[2]
local k = P .. 'visitor:' .. cid
local v = redis.call('HMGET', k, 'node', 'dept')
if not v[1] then return 0 end
redis.call('DEL', k)
redis.call('SREM', P .. 'visitors', cid)
redis.call('SREM', P .. 'dept:' .. v[2] .. ':visitors', cid)
redis.call('SREM', P .. 'node:' .. v[1] .. ':visitors', cid)
return 1
`)

// visitors: ARGV P, 'all' | P, 'depts', d... → the JSON of the live ones.
var visitorsScript = redis.NewScript(luaNow + `
local P = ARGV[1]
local now = now_ms()
local cids = {}
if ARGV[2] == 'all' then
  cids = redis.call('SMEMBERS', P .. 'visitors')
else
  for i = 3, #ARGV do
    for _, c in ipairs(redis.call('SMEMBERS', P .. 'dept:' .. ARGV[i] .. ':visitors')) do
      cids[#cids + 1] = c
    end
  end
end
local out = {}
for _, cid in ipairs(cids) do
  local v = redis.call('HMGET', P .. 'visitor:' .. cid, 'node', 'json')
  if v[1] and alive(P, v[1], now) then out[#out + 1] = v[2] end
end
return out
`)

// acquire: ARGV P, key, node, ttl ms → {granted, node, token, expires ms}.
var acquireScript = redis.NewScript(luaNow + `
local P, key, node, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_ms()
local k = P .. 'lease:' .. key
local v = redis.call('HMGET', k, 'node', 'token')
if v[1] and v[1] ~= node then
  return {0, v[1], tonumber(v[2]), now + redis.call('PTTL', k)}
end
local token = tonumber(v[2])
if not v[1] then
  token = redis.call('INCR', P .. 'fence')
  redis.call('HSET', k, 'node', node, 'token', token)
end
redis.call('PEXPIRE', k, ttl)
return {1, node, token, now + ttl}
`)

// renew: ARGV P, key, node, token, ttl ms → expires ms, or -1 when lost.
var renewScript = redis.NewScript(luaNow + `
local P, key, node, token, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local k = P .. 'lease:' .. key
local v = redis.call('HMGET', k, 'node', 'token')
if v[1] ~= node or v[2] ~= token then return -1 end
redis.call('PEXPIRE', k, ttl)
return now_ms() + ttl
`)

// release: ARGV P, key, node, token.
var releaseScript = redis.NewScript(`
local P, key, node, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = P .. 'lease:' .. key
local v = redis.call('HMGET', k, 'node', 'token')
if v[1] == node and v[2] == token then redis.call('DEL', k) end
return 1
`)

// publish: ARGV P, chat, payload → how many nodes are joined. The
// message goes to each joined node's channel as "c<chat>\n<payload>"; one
// script, so every node gets a chat's messages in the order they ran.
var publishScript = redis.NewScript(`
local P, chat = ARGV[1], ARGV[2]
local nodes = redis.call('SMEMBERS', P .. 'chat:' .. chat .. ':nodes')
local msg = 'c' .. chat .. '\n' .. ARGV[3]
for _, n in ipairs(nodes) do
  redis.call('PUBLISH', P .. 'ch:node:' .. n, msg)
end
return #nodes
`)
