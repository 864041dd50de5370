/**
 * `bullmq`, the optional peer of `digime-write-pipeline/bullmq`, loaded when
 * that entry is imported. A static `import … from "bullmq"` would fail at
 * link time with a bare `ERR_MODULE_NOT_FOUND` before any of our code runs;
 * loading it here names the package to install instead. bullmq's `main` is
 * CommonJS (Node's `import` resolves to it too), so there is one copy of its
 * classes either way.
 *
 * The cost: a bundler cannot see this load, so an app that bundles its code
 * keeps `bullmq` installed beside the bundle (marked external), as it must
 * for msw and @opentelemetry/api already.
 * @internal
 * @module
 */
import type * as BullMQ from "bullmq";
import { requirePeerOf } from "../optional-peer.js";

const bullmq = requirePeerOf<typeof BullMQ>("bullmq", "digime-write-pipeline/bullmq");

/** @internal */
export const Queue: typeof BullMQ.Queue = bullmq.Queue;
/** @internal */
export type Queue = BullMQ.Queue;
/** @internal */
export const Worker: typeof BullMQ.Worker = bullmq.Worker;
/** @internal */
export type Worker = BullMQ.Worker;
/** @internal */
export const Job: typeof BullMQ.Job = bullmq.Job;
/** @internal */
export type Job = BullMQ.Job;
/** @internal */
export const QueueEvents: typeof BullMQ.QueueEvents = bullmq.QueueEvents;
/** @internal */
export type QueueEvents = BullMQ.QueueEvents;
/** @internal */
export const DelayedError: typeof BullMQ.DelayedError = bullmq.DelayedError;
/** @internal */
export type DelayedError = BullMQ.DelayedError;
/** @internal */
export const UnrecoverableError: typeof BullMQ.UnrecoverableError = bullmq.UnrecoverableError;
/** @internal */
export type UnrecoverableError = BullMQ.UnrecoverableError;
export type { ConnectionOptions } from "bullmq";
