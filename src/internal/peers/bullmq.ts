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
 * @module
 */
import type * as BullMQ from "bullmq";
import { requirePeerOf } from "../optional-peer.js";

const bullmq = requirePeerOf<typeof BullMQ>("bullmq", "digime-write-pipeline/bullmq");

// Each class twice: the value from the app's install, and its instance type.
export const Queue: typeof BullMQ.Queue = bullmq.Queue;
export type Queue = BullMQ.Queue;
export const Worker: typeof BullMQ.Worker = bullmq.Worker;
export type Worker = BullMQ.Worker;
export const Job: typeof BullMQ.Job = bullmq.Job;
export type Job = BullMQ.Job;
export const QueueEvents: typeof BullMQ.QueueEvents = bullmq.QueueEvents;
export type QueueEvents = BullMQ.QueueEvents;
export const DelayedError: typeof BullMQ.DelayedError = bullmq.DelayedError;
export type DelayedError = BullMQ.DelayedError;
export const UnrecoverableError: typeof BullMQ.UnrecoverableError = bullmq.UnrecoverableError;
export type UnrecoverableError = BullMQ.UnrecoverableError;
export type { ConnectionOptions } from "bullmq";
