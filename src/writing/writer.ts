/**
 * The writer: one write's whole life as one async function. It validates the
 * write, waits for its turn from the scheduler it is given, runs attempts
 * under the retry policy, and settles with a receipt or a typed error, only
 * after any token the SDK produced is in the store (or held in memory).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  DeliveryError,
  DigimeWriteError,
  ReauthorizationRequiredError,
  ValidationError,
  WriteAbortedError,
} from "../errors.js";
import type { EmitEvent, WriteClientEventName, WriteReceipt } from "../events.js";
import { sanitizeError } from "../internal/redact.js";
import { retryReason, type Telemetry, type TelemetryStep } from "../telemetry/telemetry.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import { isWellFormedId, userIdSchema } from "../internal/ids.js";
import { decide, describeSdkFailure, mayHaveBeenProcessed, SdkCallError } from "../sdk/sdk-failure.js";
import type { PortWriteInput, PortWriteResult, SdkPort } from "../sdk/sdk-port.js";
import type { SdkFileMeta, UserAccessToken } from "../sdk/types.js";
import type { AcceptResult, TokenKeeper, UsableCredentials } from "../tokens/token-keeper.js";
import type { Credentials } from "../stores/token-store.js";
import { toFileSource, type FileSource } from "./file-meta.js";
import { AttemptFailedError, retryAfterFailure, type ResolvedRetryOptions } from "./retry-policy.js";
import type { Scheduler, Ticket } from "../scheduling/scheduler.js";

/**
 * Per-write options.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * await client.write("alice", file, { priority: 10, id: "invoice-42", signal: controller.signal });
 * ```
 */
export interface WriteOptions {
  /**
   * Cancels the write while queued and stops further retries. An attempt already in flight finishes and is reported.
   * @defaultValue none
   */
  signal?: AbortSignal;
  /**
   * Higher runs first, within the user's lane and across users. Default 0.
   * @defaultValue `0`
   */
  priority?: number;
  /**
   * Your id for the write, echoed in events and the receipt. Default: a unique id in UUID form (a random prefix per process and a counter).
   * @defaultValue a unique id in UUID form
   */
  id?: string;
  /**
   * Set when an earlier run of this same write may already have sent the file
   * (a scheduler redelivering it after a crash, as the BullMQ `WriteWorker`
   * does): the receipt and any error then say `possibleDuplicate` /
   * `possiblyDelivered`. Default `false`.
   * @defaultValue `false`
   */
  possibleDuplicate?: boolean;
}

const writeOptionsSchema = z
  .object({
    signal: z.instanceof(AbortSignal, { error: "must be an AbortSignal" }).optional(),
    priority: z.number().finite().optional(),
    id: z.string().min(1).max(256).optional(),
    possibleDuplicate: z.boolean().optional(),
  })
  .optional();

/**
 * The check {@link writeOptionsSchema} makes, by hand, for options that pass
 * it unchanged: every write with options (each durable job has some) would
 * otherwise pay for a zod parse. Anything else goes through the schema, which
 * words the error.
 */
function isValidWriteOptions(options: unknown): options is z.output<typeof writeOptionsSchema> {
  if (typeof options !== "object" || options === null || Array.isArray(options) || Object.getPrototypeOf(options) !== Object.prototype) return false;
  for (const key in options) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined && !isValidWriteOption(key, value)) return false;
  }
  return true;
}

function isValidWriteOption(key: string, value: unknown): boolean {
  switch (key) {
    case "signal":
      return value instanceof AbortSignal;
    case "priority":
      return typeof value === "number" && Number.isFinite(value);
    case "id":
      return typeof value === "string" && value.length >= 1 && value.length <= 256;
    case "possibleDuplicate":
      return typeof value === "boolean";
    default:
      return false;
  }
}

/** Everything the writer needs. */
export interface WriterDeps {
  /** Where writes wait for a delivery slot. */
  scheduler: Scheduler;
  keeper: TokenKeeper;
  port: SdkPort;
  emit: EmitEvent;
  now: () => number;
  retry: ResolvedRetryOptions;
  /** Spans and metrics of each write, attempt and retry. */
  telemetry: Telemetry;
  /** The contract written with (a span attribute). */
  contractId: string;
  /** Whether anyone listens to an event; payloads nobody would see are not built. Default: always. */
  listening?: (name: WriteClientEventName) => boolean;
  /** Scrubs an error in place before a write rejects with it (see `scrubError`). Default: none. */
  scrub?: (error: unknown) => unknown;
  /** Told first of every token the SDK announces mid-write, so errors can be scrubbed of it. Default: none. */
  noteToken?: (token: UserAccessToken) => void;
}

interface DeliveryProgress {
  attempts: number;
  tokenRefreshed: boolean;
  possibleDuplicate: boolean;
  outcome: PortWriteResult | undefined;
}

/**
 * The same error, saying that an earlier attempt may have stored the file. A
 * copy, never a change: an error from the token keeper may be shared by
 * several writes of one user.
 */
function withPossibleDelivery(error: DigimeWriteError): DigimeWriteError {
  const cause = error.cause;
  if (error instanceof DeliveryError && !error.possiblyDelivered) {
    const details = { attempts: error.attempts, httpStatus: error.httpStatus, sdkErrorCode: error.sdkErrorCode, possiblyDelivered: true };
    return new DeliveryError(error.code as "DELIVERY_REJECTED" | "DELIVERY_RETRIES_EXHAUSTED" | "STREAM_NOT_RETRYABLE", error.message, details, { cause });
  }
  if (error instanceof ReauthorizationRequiredError && !error.possiblyDelivered) {
    return new ReauthorizationRequiredError(error.userId, error.reason, { cause, possiblyDelivered: true });
  }
  if (error instanceof WriteAbortedError && !error.possiblyDelivered) return new WriteAbortedError(cause, true);
  return error;
}

/**
 * Write ids: UUID-shaped, unique without costing a random UUID per write.
 * The first 24 characters (version and variant included) are random once per
 * process, the last 12 are a counter in hex. `randomUUID()` per write took
 * half a microsecond once flattened (unflattened it is a 450-byte rope that
 * every queued write would keep).
 */
const WRITE_ID_PREFIX = randomUUID().slice(0, 24);
/** The two hex digits of every byte value. */
const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
let writeIdCounter = 0;

/** The prefix and the counter's digits above its last two: the same for 256 writes in a row, so a write's id costs one concatenation. */
function writeIdHeadOf(counter: number): string {
  return WRITE_ID_PREFIX + Math.floor(counter / 256).toString(16).padStart(10, "0");
}

let writeIdHead = writeIdHeadOf(0);

function newWriteId(): string {
  writeIdCounter += 1;
  const low = writeIdCounter % 256;
  if (low === 0) writeIdHead = writeIdHeadOf(writeIdCounter);
  return writeIdHead + HEX_BYTES[low]!;
}

/** Asked when a write's turn has come, before its first attempt: `undefined` to go on, or a promise to wait for first. */
export type WriteGate = () => Promise<void> | undefined;

/** One write in flight: what its events, receipt and telemetry need, and how its attempts went. */
interface Write extends DeliveryProgress {
  readonly id: string;
  readonly userId: string;
  readonly source: FileSource;
  readonly signal: AbortSignal | undefined;
  readonly priority: number;
  readonly startedAt: number;
  /** The write's span, from write() to settlement; undefined with telemetry off. */
  trace: TelemetryStep | undefined;
  /** Monotonic ms at write(), for the duration metrics (telemetry on only). */
  acceptedAt: number;
}

/**
 * What one attempt hands the SDK port: its credentials and file, and where
 * a token the SDK announces goes (noted for scrubbing, then to the keeper,
 * which persists it before the attempt settles). A class with `onToken` as a
 * method, so an attempt allocates one object, not an object and a closure.
 */
class AttemptInput implements PortWriteInput {
  readonly credentials: Credentials;
  readonly data: SdkFileMeta;
  /** Which attempt of its write this is. */
  readonly attempt: number;
  readonly #userId: string;
  readonly #keeper: TokenKeeper;
  readonly #noteToken: ((token: UserAccessToken) => void) | undefined;
  /** The keeper's persists of announced tokens; made only when the SDK announces one (rarely). */
  accepted: Array<Promise<AcceptResult>> | undefined = undefined;
  /** The SDK call, once made. */
  call: Promise<PortWriteResult> | undefined = undefined;

  constructor(credentials: Credentials, data: SdkFileMeta, userId: string, attempt: number, keeper: TokenKeeper, noteToken: ((token: UserAccessToken) => void) | undefined) {
    this.credentials = credentials;
    this.data = data;
    this.attempt = attempt;
    this.#userId = userId;
    this.#keeper = keeper;
    this.#noteToken = noteToken;
  }

  onToken(token: UserAccessToken): void {
    this.#noteToken?.(token);
    (this.accepted ??= []).push(this.#keeper.accept(this.#userId, this.credentials, token, "write"));
  }
}

/** The fields every `write:*` event carries. */
function baseOf(write: Write): { id: string; userId: string; fileName: string } {
  return { id: write.id, userId: write.userId, fileName: write.source.fileName };
}

/** The writer described above; each `WriteClient` has one. */
export class Writer {
  readonly #deps: WriterDeps;

  constructor(deps: WriterDeps) {
    this.#deps = deps;
  }

  /**
   * Validate and admit one file; the returned promise settles when it is
   * delivered or has failed. `gate`, when given, is asked once the write has
   * its turn, before its first attempt: a promise it returns is waited for
   * while the write holds its slot (the durable worker's fleet-wide pause).
   */
  write(userId: unknown, fileMeta: unknown, options?: unknown, gate?: WriteGate): Promise<WriteReceipt> {
    let source: FileSource;
    let parsedOptions: z.output<typeof writeOptionsSchema>;
    let user: string;
    try {
      user = isWellFormedId(userId, 256) ? userId : parseOrThrow(userIdSchema, userId, "INVALID_ARGUMENT", "userId");
      source = toFileSource(fileMeta);
      parsedOptions = options === undefined || isValidWriteOptions(options) ? options : parseOrThrow(writeOptionsSchema, options, "INVALID_ARGUMENT", "options");
    } catch (error) {
      return Promise.reject(this.#deps.scrub?.(error) ?? error);
    }
    const { scheduler, now, telemetry } = this.#deps;
    const priority = parsedOptions?.priority ?? 0;
    const signal = parsedOptions?.signal;
    const write: Write = {
      id: parsedOptions?.id ?? newWriteId(),
      userId: user,
      source,
      signal,
      priority,
      startedAt: now(),
      attempts: 0,
      tokenRefreshed: false,
      possibleDuplicate: parsedOptions?.possibleDuplicate === true,
      outcome: undefined,
      trace: undefined,
      acceptedAt: 0,
    };
    if (telemetry.enabled) {
      // Here, in write()'s own call: the caller's active span becomes the parent, though the write runs later.
      write.acceptedAt = performance.now();
      const attributes: Record<string, string | number> = { "digime.write.id": write.id, "digime.contract.id": this.#deps.contractId, "digime.write.priority": priority };
      if (source.size !== undefined) attributes["digime.file.size"] = source.size;
      if (telemetry.includeUserId) attributes["user.id"] = user;
      write.trace = telemetry.start("digime.write", attributes);
    }
    const ticket = scheduler.admit({ userId: user, priority, signal, bytes: source.size ?? 0 });
    if (ticket instanceof Error) return Promise.reject(this.#failed(write, ticket));
    if (this.#deps.listening?.("write:queued") !== false) this.#deps.emit("write:queued", { ...baseOf(write), priority, queued: scheduler.size });
    const turn = ticket.turn();
    if (turn === undefined) return this.#run(write, ticket, gate);
    // A write that must wait holds one reaction on its turn, not a suspended async function: about
    // 180 bytes less per queued write (benchmark 4), for one more promise to adopt once it runs.
    return turn.then(
      () => this.#run(write, ticket, gate),
      (refused: unknown) => {
        ticket.release();
        throw this.#failed(write, refused);
      },
    );
  }

  /**
   * Deliver, release the slot, settle: the life of one admitted write once
   * its turn came. The first attempt runs here directly; only a failure
   * enters the retry policy.
   */
  async #run(write: Write, ticket: Ticket, gate: WriteGate | undefined): Promise<WriteReceipt> {
    let failure: unknown;
    let failed = false;
    try {
      const closed = gate?.();
      if (closed !== undefined) await closed;
      if (write.trace !== undefined) this.#dequeued(write);
      write.signal?.throwIfAborted();
      try {
        if (write.trace !== undefined) await this.#attemptNumbered(write, 1);
        else {
          // The first attempt inline: these lines repeat #attempt's on purpose, since calling it would
          // cost one async function, its promise and one microtask hop more per write (32 promises per
          // write instead of 30, bench/per-write.ts).
          this.#numbered(write, 1);
          const begun = this.#begin(write, 1);
          const input = begun instanceof Promise ? await begun : begun;
          let outcome: PortWriteResult | undefined;
          let thrown: unknown;
          try {
            outcome = await input.call;
          } catch (error) {
            thrown = error;
          }
          const concluded = this.#concluded(write, input, outcome, thrown);
          if (concluded instanceof Promise) await concluded;
        }
      } catch (error) {
        await this.#retry(write, error);
      }
    } catch (error) {
      // An attempt that succeeded while the signal fired still delivered the file: report the truth.
      if (write.outcome === undefined) {
        failed = true;
        failure = write.signal?.aborted && error === write.signal.reason ? new WriteAbortedError(write.signal.reason) : error;
      }
    }
    // Released before the write settles, so `queue:idle` and `client.queued` already count it as done.
    ticket.release();
    if (failed) throw this.#failed(write, failure);
    return this.#succeeded(write);
  }

  /** The receipt of a delivered write; emits `write:succeeded`. */
  #succeeded(write: Write): WriteReceipt {
    const receipt: WriteReceipt = Object.freeze({
      id: write.id,
      userId: write.userId,
      status: "delivered",
      attempts: write.attempts,
      durationMs: this.#deps.now() - write.startedAt,
      tokenRefreshed: write.tokenRefreshed,
      possibleDuplicate: write.possibleDuplicate,
    });
    if (this.#deps.listening?.("write:succeeded") !== false) this.#deps.emit("write:succeeded", { ...baseOf(write), receipt });
    if (write.trace !== undefined) this.#settledTelemetry(write, "delivered", undefined);
    return receipt;
  }

  /** The typed error a failed write settles with; emits `write:failed`. */
  #failed(write: Write, thrown: unknown): DigimeWriteError {
    let error =
      thrown instanceof DigimeWriteError
        ? thrown
        : new DeliveryError("DELIVERY_REJECTED", "The write failed unexpectedly", { attempts: write.attempts }, { cause: sanitizeError(thrown) });
    // The last attempt decides the code, but any attempt may have stored the file.
    if (write.possibleDuplicate) error = withPossibleDelivery(error);
    // Here rather than around every write's promise: only failures pay for it.
    this.#deps.scrub?.(error);
    this.#deps.emit("write:failed", { ...baseOf(write), attempts: write.attempts, possiblyDelivered: write.possibleDuplicate, error });
    if (write.trace !== undefined) this.#settledTelemetry(write, "failed", error);
    return error;
  }

  /** End the write's span; count it and record its duration. */
  #settledTelemetry(write: Write, outcome: "delivered" | "failed", error: DigimeWriteError | undefined): void {
    const { telemetry } = this.#deps;
    write.trace!.set({ "digime.write.outcome": outcome, "digime.write.attempts": write.attempts, "digime.write.possible_duplicate": write.possibleDuplicate });
    write.trace!.end(error);
    telemetry.count("digime.writes", error === undefined ? { "digime.write.outcome": outcome } : { "digime.write.outcome": outcome, "error.type": error.code });
    telemetry.record("digime.write.duration", (performance.now() - write.acceptedAt) / 1000, { "digime.write.outcome": outcome });
  }

  /** The write leaves the queue: how long it waited, on its span. */
  #dequeued(write: Write): void {
    const waited = (performance.now() - write.acceptedAt) / 1000;
    write.trace!.event("digime.write.dequeued", { "digime.write.queue_wait_s": waited });
    this.#deps.telemetry.record("digime.write.queue_wait", waited);
  }

  /** Attempt number `attempt` of `write` (a retry, or any attempt of a traced write); its outcome is kept on the write (by {@link #concluded}). */
  #attemptNumbered(write: Write, attempt: number): Promise<PortWriteResult> {
    this.#numbered(write, attempt);
    return write.trace === undefined ? this.#attempt(write, attempt) : this.#tracedAttempt(write.trace, write, attempt);
  }

  /** Count attempt number `attempt` of `write` and announce it (`write:started`). */
  #numbered(write: Write, attempt: number): void {
    write.attempts = attempt;
    if (this.#deps.listening?.("write:started") !== false) this.#deps.emit("write:started", { ...baseOf(write), attempt });
  }

  /** The first attempt failed with `firstError`: attempts under the retry policy until one succeeds or none is left. */
  async #retry(write: Write, firstError: unknown): Promise<void> {
    const { emit, retry, telemetry } = this.#deps;
    const { trace } = write;
    await retryAfterFailure<PortWriteResult>(
      firstError,
      (attempt) => this.#attemptNumbered(write, attempt),
      retry,
      {
        onRetry: (failure, attempt, delayMs) => {
          emit("write:retrying", { ...baseOf(write), attempt, delayMs, error: attemptError(failure.error as DigimeWriteError, attempt) });
          if (trace !== undefined) {
            const reason = retryReason(failure);
            trace.event("digime.write.retry", { "digime.write.attempt": attempt, "digime.retry.delay_ms": delayMs, "digime.retry.reason": reason });
            telemetry.count("digime.write.retries", { "digime.retry.reason": reason });
          }
        },
      },
      write.signal,
    );
  }

  /** One attempt inside its own span (a child of the write's); refresh and store calls nest under it. */
  async #tracedAttempt(trace: TelemetryStep, write: Write, attempt: number): Promise<PortWriteResult> {
    const { telemetry } = this.#deps;
    const step = telemetry.start("digime.write.attempt", { "digime.write.attempt": attempt }, trace);
    try {
      const outcome = await step.run(() => this.#attempt(write, attempt));
      step.end();
      telemetry.count("digime.write.attempts", { "digime.attempt.outcome": "success" });
      return outcome;
    } catch (error) {
      // A failure that will be retried is the attempt's (DELIVERY_ATTEMPT_FAILED), as write:retrying says.
      const failure = error instanceof AttemptFailedError ? error.failure : undefined;
      step.end(failure?.retryable === true && failure.error instanceof DigimeWriteError ? attemptError(failure.error, attempt) : error);
      telemetry.count("digime.write.attempts", { "digime.attempt.outcome": "failure" });
      throw error;
    }
  }

  /** One attempt: usable credentials, one SDK call, every announced token persisted. */
  async #attempt(write: Write, attempt: number): Promise<PortWriteResult> {
    const begun = this.#begin(write, attempt);
    const input = begun instanceof Promise ? await begun : begun;
    let outcome: PortWriteResult | undefined;
    let thrown: unknown;
    try {
      outcome = await input.call;
    } catch (error) {
      thrown = error;
    }
    return this.#concluded(write, input, outcome, thrown);
  }

  /** An attempt's SDK call under way: at once when the keeper answers at once. */
  #begin(write: Write, attempt: number): AttemptInput | Promise<AttemptInput> {
    let ready: ReturnType<TokenKeeper["ensureUsable"]>;
    try {
      ready = this.#deps.keeper.ensureUsable(write.userId);
    } catch (error) {
      throw this.#failureBeforeCall(error, attempt);
    }
    if (ready instanceof Promise) {
      return ready.then(
        (usable) => this.#call(write, attempt, usable),
        (error: unknown) => {
          throw this.#failureBeforeCall(error, attempt);
        },
      );
    }
    return this.#call(write, attempt, ready);
  }

  /** Open the file and call the SDK with `usable` credentials. */
  #call(write: Write, attempt: number, usable: UsableCredentials): AttemptInput {
    if (usable.refreshed) write.tokenRefreshed = true;
    let data: SdkFileMeta;
    try {
      data = write.source.open();
    } catch (error) {
      // The caller's factory failed (a missing file, say): nothing was sent, and trying again will not help.
      if (error instanceof DigimeWriteError) throw new AttemptFailedError({ error, retryable: false });
      const cause = sanitizeError(error);
      throw new AttemptFailedError({
        retryable: false,
        error: new ValidationError("INVALID_ARGUMENT", "fileMeta", [{ path: "fileMeta.fileData", message: `could not be opened: ${cause.message}` }]),
      });
    }
    const input = new AttemptInput(usable.credentials, data, write.userId, attempt, this.#deps.keeper, this.#deps.noteToken);
    input.call = this.#deps.port.write(input);
    return input;
  }

  /** The attempt's outcome once its SDK call settled: at once when delivered with no token announced. */
  #concluded(write: Write, input: AttemptInput, outcome: PortWriteResult | undefined, thrown: unknown): PortWriteResult | Promise<PortWriteResult> {
    if (input.accepted === undefined && outcome?.status === "delivered") {
      write.outcome = outcome;
      return outcome;
    }
    return this.#concludedAfterTokens(write, input, outcome, thrown);
  }

  /** {@link #concluded} where the SDK announced a token or the call did not deliver. */
  async #concludedAfterTokens(write: Write, input: AttemptInput, outcome: PortWriteResult | undefined, thrown: unknown): Promise<PortWriteResult> {
    // A token announced before a failure is persisted all the same: it may be the only valid one left.
    const { accepted } = input;
    if (accepted !== undefined && (await Promise.all(accepted)).some((r) => r.changed)) write.tokenRefreshed = true;
    if (outcome?.status === "delivered") {
      write.outcome = outcome;
      return outcome;
    }
    if (outcome?.status === "pending") throw this.#stillPending(write.source, input.attempt, write);
    throw await this.#failureOfCall(thrown, write.userId, input.credentials, write.source, input.attempt, write);
  }

  /**
   * Generation A answered `pending` even after the SDK refreshed: the postbox
   * did not take the file with this token. Retry (the new token is stored by
   * now); flag a possible duplicate, since digi.me may still hold it for later.
   */
  #stillPending(source: FileSource, attempt: number, progress: DeliveryProgress): AttemptFailedError {
    progress.possibleDuplicate = true;
    const error = new DeliveryError(
      source.retryable ? "DELIVERY_RETRIES_EXHAUSTED" : "STREAM_NOT_RETRYABLE",
      `digi.me's postbox answered "pending" after ${attempt} attempt(s): the file was not accepted`,
      { attempts: attempt, possiblyDelivered: true },
    );
    return new AttemptFailedError({ retryable: source.retryable, error, reason: "pending" });
  }

  /** Failures while preparing credentials: store trouble is transient, the rest is terminal. */
  #failureBeforeCall(error: unknown, attempt: number): AttemptFailedError {
    if (error instanceof SdkCallError) {
      const retryable = decide(error.info) === "retry";
      return new AttemptFailedError({
        retryable,
        retryAfterMs: error.info.retryAfterMs,
        error: new DeliveryError(
          retryable ? "DELIVERY_RETRIES_EXHAUSTED" : "DELIVERY_REJECTED",
          `Refreshing the access token failed: ${error.message}`,
          { attempts: attempt, httpStatus: error.httpStatus, sdkErrorCode: error.sdkErrorCode },
          { cause: error },
        ),
      });
    }
    if (error instanceof DigimeWriteError) return new AttemptFailedError({ error, retryable: error.code === "TOKEN_STORE_FAILED" });
    return new AttemptFailedError({
      retryable: false,
      error: new DeliveryError("DELIVERY_REJECTED", "Preparing the user's credentials failed unexpectedly", { attempts: attempt }, { cause: sanitizeError(error) }),
    });
  }

  async #failureOfCall(
    thrown: unknown,
    userId: string,
    credentials: Credentials,
    source: FileSource,
    attempt: number,
    progress: DeliveryProgress,
  ): Promise<AttemptFailedError> {
    if (thrown instanceof DigimeWriteError) return new AttemptFailedError({ error: thrown, retryable: false });
    const token = credentials.userAccessToken;
    const info = describeSdkFailure(thrown, [token.accessToken.value, token.refreshToken.value], this.#deps.now());
    const cause = new SdkCallError(info);
    const details = { attempts: attempt, httpStatus: info.httpStatus, sdkErrorCode: info.sdkErrorCode, possiblyDelivered: mayHaveBeenProcessed(info) };
    if (details.possiblyDelivered) progress.possibleDuplicate = true;
    const decision = decide(info);

    if (decision === "invalid-token") {
      // Another write or process may have spent the refresh token first and be storing its successor:
      // retry with that one. Only a refused token with nothing newer anywhere means consent again.
      if (source.retryable && (await this.#deps.keeper.newerThanRefused(userId, token)) !== undefined) {
        return new AttemptFailedError({
          retryable: true,
          reason: "token_rotated",
          error: new DeliveryError("DELIVERY_RETRIES_EXHAUSTED", "The access token was rotated elsewhere during the write", details, { cause }),
        });
      }
      this.#deps.keeper.markRejected(userId, token);
      return new AttemptFailedError({
        retryable: false,
        error: new ReauthorizationRequiredError(userId, "digi.me rejected the token and the SDK could not refresh it", { cause }),
      });
    }
    if (decision === "reject") {
      return new AttemptFailedError({ retryable: false, error: new DeliveryError("DELIVERY_REJECTED", `digi.me rejected the write: ${cause.message}`, details, { cause }) });
    }
    if (!source.retryable) {
      return new AttemptFailedError({
        retryable: false,
        error: new DeliveryError("STREAM_NOT_RETRYABLE", `A transient fault hit a write whose Readable can be read only once; pass a factory () => Readable to retry: ${cause.message}`, details, { cause }),
      });
    }
    return new AttemptFailedError({
      retryable: true,
      retryAfterMs: info.retryAfterMs,
      error: new DeliveryError("DELIVERY_RETRIES_EXHAUSTED", `Delivery failed after ${attempt} attempt(s): ${cause.message}`, details, { cause }),
    });
  }
}

/**
 * The error of one attempt that is about to be retried. The attempt loop
 * carries the error the write would settle with if retries ran out
 * (`DELIVERY_RETRIES_EXHAUSTED`); `write:retrying` must not say that.
 */
function attemptError(error: DigimeWriteError, attempt: number): DigimeWriteError {
  if (!(error instanceof DeliveryError) || error.code !== "DELIVERY_RETRIES_EXHAUSTED") return error;
  const reason = error.cause instanceof Error ? error.cause.message : error.message;
  return new DeliveryError(
    "DELIVERY_ATTEMPT_FAILED",
    `Attempt ${attempt} failed and will be retried: ${reason}`,
    { attempts: attempt, httpStatus: error.httpStatus, sdkErrorCode: error.sdkErrorCode, possiblyDelivered: error.possiblyDelivered },
    error.cause === undefined ? {} : { cause: error.cause },
  );
}
