/**
 * `ioredis`, the optional peer of `digime-write-pipeline/redis`, loaded when
 * that entry is imported. A static `import … from "ioredis"` would fail at
 * link time with a bare `ERR_MODULE_NOT_FOUND` before any of our code runs;
 * loading it here names the package to install instead. ioredis is a
 * CommonJS package, so `require` and `import` give the same classes.
 *
 * The cost: a bundler cannot see this load, so an app that bundles its code
 * keeps `ioredis` installed beside the bundle (marked external), as it must
 * for msw and @opentelemetry/api already.
 * @module
 */
import type * as IORedis from "ioredis";
import { requirePeerOf } from "../optional-peer.js";

const ioredis = requirePeerOf<typeof IORedis>("ioredis", "digime-write-pipeline/redis");

/** ioredis's `Redis` class, from the app's install. */
export const RedisClient: typeof IORedis.Redis = ioredis.Redis;
