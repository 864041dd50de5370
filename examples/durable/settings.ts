/** What the example's producer and worker share: where Redis is, the queue, and the stand-in file. */
import { tmpdir } from "node:os";
import nodePath from "node:path";

/** Where the stand-in digi.me runs and the contract's details (in production: your configuration). */
export interface Standin {
  applicationId: string;
  baseUrl: string;
  onboardUrl: string;
  contractDetails: { contractId: string; privateKey: string };
}

export function settings() {
  return {
    redisUrl: process.env.REDIS_URL || "redis://127.0.0.1:6379",
    queueName: process.env.DURABLE_QUEUE || "digime-writes-example",
    tokenKeyPrefix: `${process.env.DURABLE_QUEUE || "digime-writes-example"}:tokens:`,
    standinFile: process.env.DURABLE_STANDIN_FILE || nodePath.join(tmpdir(), "digime-durable-standin.json"),
  };
}
