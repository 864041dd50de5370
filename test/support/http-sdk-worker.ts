/**
 * A worker process for test/sdk/http-sdk.test.ts: a WriteClient on createHttpSdk,
 * sharing a FileTokenStore with the parent, writes `count` files for one
 * user to the sandbox the parent serves over HTTP. Configuration arrives as
 * JSON in argv[2]; it prints one JSON line with the outcomes.
 */
import { FileTokenStore } from "../../src/index.js";
import { createHttpSdk } from "../../src/testing/index.js";
import { testClient } from "./test-client.js";

interface WorkerConfig {
  name: string;
  applicationId: string;
  baseUrl: string;
  onboardUrl: string;
  contractDetails: { contractId: string; privateKey: string };
  storePath: string;
  userId: string;
  count: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
const client = testClient({
  sdk: createHttpSdk({ applicationId: config.applicationId, baseUrl: config.baseUrl, onboardUrl: config.onboardUrl }),
  contractDetails: config.contractDetails,
  tokenStore: new FileTokenStore({ path: config.storePath }),
});
const outcomes = await Promise.allSettled(
  Array.from({ length: config.count }, (_, i) =>
    client.write(config.userId, { fileData: Buffer.from(`${config.name}-${i}`), fileName: `${config.name}-${i}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "w" }] } }),
  ),
);
await client.close();
console.log(JSON.stringify({ delivered: outcomes.filter((o) => o.status === "fulfilled").length, failed: outcomes.flatMap((o) => (o.status === "rejected" ? [String((o.reason as { code?: string }).code)] : [])) }));
