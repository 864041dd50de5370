/**
 * Lua scripts run by SHA (one round trip), loaded on first use. Scripts are
 * how the stores stay atomic: Redis runs each one without interleaving.
 */
import { createHash } from "node:crypto";
import type { RedisCommands } from "./connection.js";

/** A Lua script that runs with EVALSHA and falls back to EVAL once the server has forgotten it. */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: RedisCommands, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      // After SCRIPT FLUSH, a restart or a failover, EVAL loads the script again.
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Compare-and-set of one contract's record in a user's hash.
 * KEYS[1] the user's hash; ARGV[1] contract id; ARGV[2] expected version
 * ("0": nothing stored); ARGV[3] the credentials as JSON. With KEYS[2] (the
 * contract's index of refresh-token expiries, a sorted set) and ARGV[4] (the
 * user id), the index is updated in the same step.
 * Returns {1, stored} or {0, current?}. The credentials are spliced into the
 * record as sent, never decoded and re-encoded (cjson would round numbers).
 * `updatedAt` is the server's clock, never before the previous version's.
 */
export const COMPARE_AND_SET = new RedisScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version, updatedAt = 0, 0
if current then
  local record = cjson.decode(current)
  version, updatedAt = record.version, record.updatedAt
end
if version ~= tonumber(ARGV[2]) then
  if current then return {0, current} end
  return {0}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now < updatedAt then now = updatedAt end
local stored = '{"version":' .. string.format('%d', version + 1) .. ',"updatedAt":' .. string.format('%.0f', now) .. ',"credentials":' .. ARGV[3] .. '}'
redis.call('HSET', KEYS[1], ARGV[1], stored)
if KEYS[2] then
  local expiry = cjson.decode(ARGV[3]).userAccessToken.refreshToken.expiry
  redis.call('ZADD', KEYS[2], string.format('%.0f', expiry * 1000), ARGV[4])
end
return {1, stored}
`);

/**
 * Deletes field ARGV[1] (the contract) of KEYS[1] (the user's hash) and, with
 * KEYS[2] (the contract's refresh-expiry index), the user ARGV[2] from it.
 */
export const DELETE_RECORD = new RedisScript(`
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[2]) end
return removed
`);

/** Deletes KEYS[1] only while it holds ARGV[1] (the lease owner). */
export const RELEASE_IF_OWNER = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Sets KEYS[1] to expire ARGV[2] ms from now only while it holds ARGV[1] (the lease owner); 1 if renewed. */
export const RENEW_IF_OWNER = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/**
 * One-time take of a pending authorization. KEYS[1] the state's key; ARGV[1]
 * used-until (epoch ms). The value is "P<expiresAt>:<bundle JSON>" while
 * pending and "U<until>" once used; either way it becomes "U<until>",
 * expiring at the later of the two times, and the previous value is returned.
 */
export const CONSUME_PENDING = new RedisScript(`
local value = redis.call('GET', KEYS[1])
local untilMs = tonumber(ARGV[1])
if value then
  local previous = tonumber(string.match(value, '^[PU](%d+)'))
  if previous and previous > untilMs then untilMs = previous end
end
local at = string.format('%.0f', untilMs)
redis.call('SET', KEYS[1], 'U' .. at, 'PXAT', at)
return value
`);
