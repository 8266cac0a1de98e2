// One turn's event stream, shared by both lifecycles: the queue a turn emits into, the routing
// of notifications to `display.onEvent`, and the supervision that ticks `activity` every 2 s and
// fires the opt-in timeout.

import { ACTIVITY_INTERVAL_MS } from "./constants.js";

/**
 * @typedef {import("./index.js").AgentEvent} AgentEvent
 * @typedef {import("./index.js").NotificationEvent} NotificationEvent
 * @typedef {(event: NotificationEvent) => unknown} OnEvent
 */

const END = Symbol("end");

/** The events of one turn, in order; ends after the closing `result` or `error`. */
export class TurnStream {
  /** @param {OnEvent | undefined} onEvent */
  constructor(onEvent) {
    this.onEvent = onEvent;
    /** @type {Array<AgentEvent | typeof END>} */
    this.items = [];
    /** @type {(() => void) | undefined} */
    this.wake = undefined;
    /** @type {Promise<unknown>[]} */
    this.pending = [];
    this.sawFinal = false;
  }

  /** @param {AgentEvent} event */
  emit(event) {
    this.push(event);
  }

  end() {
    this.push(END);
  }

  /** @param {AgentEvent | typeof END} item */
  push(item) {
    this.items.push(item);
    this.wake?.();
  }

  /**
   * Notifications go to `display.onEvent` when set, otherwise into the stream: never both.
   * @param {NotificationEvent} event
   */
  deliver(event) {
    if (event.method === "result/final") this.sawFinal = true;
    const callback = this.onEvent;
    if (callback === undefined) {
      this.emit(event);
      return;
    }
    try {
      const returned = callback(event);
      if (returned instanceof Promise) this.pending.push(returned.catch(reportCallbackError));
    } catch (error) {
      reportCallbackError(error); // a host callback must not break the turn
    }
  }

  /** Wait for the async `onEvent` callbacks started so far. */
  async settle() {
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
  }

  /** @returns {Promise<AgentEvent | typeof END>} */
  async next() {
    while (this.items.length === 0) {
      await new Promise((resolve) => {
        this.wake = () => resolve(undefined);
      });
      this.wake = undefined;
    }
    return /** @type {AgentEvent | typeof END} */ (this.items.shift());
  }

  /**
   * @param {() => boolean} done whether the turn has ended
   * @param {() => Promise<void>} abandon called when the consumer stops listening early
   * @returns {AsyncGenerator<AgentEvent>}
   */
  async *events(done, abandon) {
    try {
      for (;;) {
        const event = await this.next();
        if (event === END) return;
        yield event;
      }
    } finally {
      if (!done()) await abandon(); // do not leave the turn running
    }
  }
}

/**
 * Wait for `waiter`, emitting `activity` every 2 s and calling `onTimeout` once the timeout
 * passes (the waiter is then expected to settle soon).
 * @template T
 * @param {Promise<T>} waiter
 * @param {number | undefined} timeoutMs
 * @param {(event: AgentEvent) => void} emit
 * @param {() => void} onTimeout
 * @returns {Promise<T>}
 */
export async function supervise(waiter, timeoutMs, emit, onTimeout) {
  const started = Date.now();
  const ticker = setInterval(
    () => emit({ type: "activity", elapsedMs: Date.now() - started }),
    ACTIVITY_INTERVAL_MS,
  );
  const deadline = timeoutMs === undefined ? undefined : setTimeout(onTimeout, timeoutMs);
  try {
    return await waiter;
  } finally {
    clearInterval(ticker);
    clearTimeout(deadline);
  }
}

/** @param {unknown} error */
function reportCallbackError(error) {
  process.emitWarning(`display.onEvent threw: ${String(error)}`);
}
