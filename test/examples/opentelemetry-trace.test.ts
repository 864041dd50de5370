/**
 * `npm run demo:trace` (examples/opentelemetry.ts): the rendered trace has
 * the shape docs/observability.md shows: the three writes under the app's
 * request span, the first with a failed and a successful attempt, the
 * refresh (and the store write of its new token) under the first attempt.
 */
import { describe, expect, it } from "vitest";
import { runTracedDemo } from "../../examples/opentelemetry.js";

/** Span lines without durations and attributes: "  digime.write.attempt ERROR". */
function shape(rendered: string): string[] {
  return rendered
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("·"))
    .map((line) => line.replace(/ [\d.]+ ms( ERROR\([A-Z_]+\))?.*$/, (_, error: string | undefined) => (error === undefined ? "" : " ERROR")));
}

describe("examples/opentelemetry.ts", () => {
  it("renders the authorization and the request as span trees", async () => {
    const { authorization, request } = await runTracedDemo();
    expect(shape(authorization)).toEqual([
      "digime.authorization.begin",
      "  digime.token_store.listByUser",
      "digime.authorization.complete",
      "  digime.token_store.get",
      "  digime.token_store.set",
    ]);
    expect(shape(request)).toEqual([
      "POST /orders",
      "  digime.write",
      "    digime.write.attempt ERROR",
      "      digime.token_store.get",
      "      digime.token_store.acquireRefreshLease",
      "      digime.token_store.get",
      "      digime.token.refresh",
      "        digime.token_store.set",
      "      digime.token_store.releaseRefreshLease",
      "    digime.write.attempt",
      "      digime.token_store.get",
      "  digime.write",
      "    digime.write.attempt",
      "      digime.token_store.get",
      "  digime.write",
      "    digime.write.attempt",
      "      digime.token_store.get",
    ]);
    expect(request).toContain("digime.retry.reason=server_error");
    expect(request).toContain("http.response.status_code=503");
  });
});
