/**
 * Durable writes on BullMQ (Redis): a write accepted by a
 * {@link DurableWriteQueue} is delivered by a {@link WriteWorker} even if
 * processes die on the way. Needs the optional peer dependency `bullmq`.
 *
 * @example
 * ```ts
 * import { DurableWriteQueue, WriteWorker } from "digime-write-pipeline/bullmq";
 *
 * // producer (a web server)
 * const queue = new DurableWriteQueue({ connection, queueName: "digime-writes" });
 * const { id } = await queue.enqueue("alice", fileMeta, { id: "order-1" });
 *
 * // consumer (a worker process)
 * const worker = new WriteWorker({ client, connection, queueName: "digime-writes", concurrency: 16 });
 * ```
 * @module digime-write-pipeline/bullmq
 */
export {
  DurableWriteQueue,
  DURABLE_QUEUE_DEFAULTS,
  type DurableWriteQueueOptions,
  type EnqueueOptions,
  type EnqueueResult,
  type DurableWriteEvents,
  type DurableDeliveredEvent,
  type DurableFailedEvent,
  type DurableRetryingEvent,
  type DurableParkedEvent,
  type DurableResumedEvent,
  type ParkedUser,
} from "./durable/durable-write-queue.js";
export { WriteWorker, WRITE_WORKER_DEFAULTS, type WriteWorkerOptions, type WriteLimiter, type TokenUpkeepSchedule, type TokenUpkeepResult } from "./durable/write-worker.js";
export { DirectoryPayloadStore, type PayloadStore, type DirectoryPayloadStoreOptions } from "./durable/payload-store.js";
export { PayloadStoreRequiredError, type PayloadStoreRequiredReason, QueueUnavailableError, QueueMisconfiguredError, WriteNotFoundError } from "./errors.js";
