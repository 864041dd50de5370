/**
 * Fair shares across users on open-source BullMQ: the Redis scripts that
 * give each write its priority, count each user's queued writes (quotas),
 * and give the count back when the write settles.
 *
 * The technique is fair queuing by virtual time. Each user has a "last
 * priority" `p`; a new write gets `max(p + 1, floor)`, where `floor` is the
 * lowest priority still waiting in BullMQ's prioritized set (the queue's
 * virtual clock). BullMQ takes the lowest priority first, and the order of
 * arrival among equals, so a user's n-th queued write waits behind every
 * other user's n-th: one user's backlog of 1,500 no longer delays a user
 * with one write behind all of them. A user with nothing queued starts again
 * at the floor (no credit for idle time, no debt from past backlogs).
 *
 * Everything that decides (the quota check, the id check, the priority) runs
 * in one script, so concurrent enqueues see each other. BullMQ's own add
 * runs after it; a claim key carries the priority between the two, so an
 * enqueue retried after a lost reply adds the same job once.
 * @module
 */

/** BullMQ's largest priority (2^21 - 1); a priority past it is clamped (first come, first served among those). */
export const PRIORITY_LIMIT = 2 ** 21 - 1;

/** How long a claim outlives an enqueue whose add did not land (the same id enqueued again within it reuses it). */
export const CLAIM_TTL_MS = 10 * 60 * 1000;

/** The hash of per-user counts and priorities, beside BullMQ's keys of the queue (`queue.toKey(FAIR_KEY)`). */
export const FAIR_KEY = "dwp:fair";

/** A job's claim key: the priority an enqueue decided, until BullMQ's add landed. */
export function claimKeyOf(jobKey: string): string {
  return `${jobKey}:dwp-claim`;
}

/** What {@link RESERVE_SCRIPT} decided. */
export type Reservation =
  | { kind: "existing" }
  | { kind: "new" | "claimed"; priority: number }
  | { kind: "user-full"; queued: number }
  | { kind: "full"; queued: number };

/** Reads the script's reply (`[kind, number]`). */
export function parseReservation(reply: unknown): Reservation {
  const [kind, value] = reply as [string, number];
  switch (kind) {
    case "existing":
      return { kind };
    case "new":
    case "claimed":
      return { kind, priority: Number(value) };
    case "user-full":
    case "full":
      return { kind, queued: Number(value) };
    default:
      throw new Error(`unexpected reply from the reserve script: ${String(kind)}`);
  }
}

/**
 * KEYS: job key, claim key, fair hash, BullMQ's prioritized set.
 * ARGV: user id, maxQueuedPerUser, maxQueued, claim TTL (ms), priority limit.
 * The job key holds the user (see jobIdOf), so an existing job or claim is
 * always this user's own.
 */
export const RESERVE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'existing', 0} end
local claimed = redis.call('GET', KEYS[2])
if claimed then return {'claimed', tonumber(claimed)} end
local user = ARGV[1]
local queued = tonumber(redis.call('HGET', KEYS[3], 'n:' .. user) or '0')
if queued >= tonumber(ARGV[2]) then return {'user-full', queued} end
local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '0')
if total >= tonumber(ARGV[3]) then return {'full', total} end
local floor = 1
local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
if first[2] then floor = math.max(1, math.floor(tonumber(first[2]) / 4294967296)) end
local last = tonumber(redis.call('HGET', KEYS[3], 'p:' .. user) or '0')
local priority = math.min(math.max(last + 1, floor), tonumber(ARGV[5]))
redis.call('HSET', KEYS[3], 'p:' .. user, priority, 'n:' .. user, queued + 1, 'total', total + 1)
redis.call('SET', KEYS[2], priority, 'PX', ARGV[4])
return {'new', priority}
`;

/**
 * Undoes a reservation whose job was never added (the payload store failed).
 * KEYS: job key, claim key, fair hash. ARGV: user id.
 */
export const UNRESERVE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('DEL', KEYS[2]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[3], 'n:' .. ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[3], 'n:' .. ARGV[1], 'p:' .. ARGV[1]) end
if redis.call('HINCRBY', KEYS[3], 'total', -1) < 0 then redis.call('HSET', KEYS[3], 'total', 0) end
return 1
`;

/**
 * A settled write: its payload copy replaced by ARGV[2i-1] (its data without
 * the bytes), and its place in its user's count given back, once (the job's
 * \`dwpSettled\` field makes a second release a no-op). A user with nothing
 * left queued starts again at the floor.
 * KEYS: job keys…, then the fair hash. ARGV: per job, data JSON and user id.
 *
 * About two Redis calls per job, not five: one HSET sets the data and the
 * settled mark and answers how many fields were new (a job's hash holds
 * \`data\` from BullMQ's add on: 1 means the mark is new, this is the job's
 * first release; 0 a release again; 2 with nothing else in the hash, a job
 * gone meanwhile, whose hash the HSET just made and the script deletes at
 * once, unseen), and the counts are given back per user and once for the
 * total.
 */
export const RELEASE_SCRIPT = `
local fair = KEYS[#KEYS]
local users, given, settled = {}, {}, 0
for i = 1, #KEYS - 1 do
  local key = KEYS[i]
  local added = redis.call('HSET', key, 'data', ARGV[2 * i - 1], 'dwpSettled', '1')
  if added == 2 and redis.call('HLEN', key) == 2 then
    redis.call('DEL', key)
  elseif added > 0 then
    local user = ARGV[2 * i]
    if given[user] == nil then
      given[user] = 0
      users[#users + 1] = user
    end
    given[user] = given[user] + 1
    settled = settled + 1
  end
end
for _, user in ipairs(users) do
  local n = redis.call('HINCRBY', fair, 'n:' .. user, -given[user])
  if n <= 0 then redis.call('HDEL', fair, 'n:' .. user, 'p:' .. user) end
end
if settled > 0 and redis.call('HINCRBY', fair, 'total', -settled) < 0 then redis.call('HSET', fair, 'total', 0) end
return #KEYS - 1
`;
