/** One Server-Sent Events message as a client sees it (comments counted apart). */
export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
  /** When it arrived (performance.now()). */
  at: number;
}

/**
 * A streaming SSE client on node's fetch, reading the body as it comes: what a browser's
 * EventSource does, without its automatic reconnects (tests reconnect by hand).
 */
export async function openSse(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  const messages: SseMessage[] = [];
  let comments = 0;
  let ended = false;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  const reading = (async () => {
    if (res.body === null || !res.ok) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let id: string | undefined;
          let event = "message";
          const data: string[] = [];
          let fields = 0;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) {
              comments += 1;
              continue;
            }
            const colon = line.indexOf(":");
            const name = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (name === "id") id = value;
            else if (name === "event") event = value;
            else if (name === "data") data.push(value);
            else continue;
            fields += 1;
          }
          if (fields > 0 && data.length > 0) {
            messages.push({ id, event, data: data.join("\n"), at: performance.now() });
          }
          notify();
        }
      }
    } catch {
      // Aborted by close(), or the server went away.
    } finally {
      ended = true;
      notify();
    }
  })();

  /** Resolves once `check` holds (re-checked on every message), or rejects after `timeoutMs`. */
  const until = (check: () => boolean, timeoutMs = 5000, what = "condition") =>
    new Promise<void>((resolve, reject) => {
      if (check()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(messages)}`),
        );
      }, timeoutMs);
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve();
      };
      waiters.add(waiter);
    });

  return {
    res,
    messages,
    get comments() {
      return comments;
    },
    get ended() {
      return ended;
    },
    until,
    /** Waits for a message matching `match` and returns it. */
    async next(match: (m: SseMessage) => boolean, timeoutMs = 5000): Promise<SseMessage> {
      await until(() => messages.some(match), timeoutMs, "a matching message");
      return messages.find(match)!;
    },
    /** Waits until the server ends the stream. */
    closed: (timeoutMs = 5000) => until(() => ended, timeoutMs, "the end of the stream"),
    async close() {
      controller.abort();
      await reading;
    },
  };
}

export type SseClient = Awaited<ReturnType<typeof openSse>>;
