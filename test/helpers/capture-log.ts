import { Writable } from "node:stream";
import pino from "pino";

/** A line a capturing logger wrote: pino's JSON, with whatever fields the caller logged. */
export interface LogLine {
  msg?: string;
  [field: string]: unknown;
}

/** An info-level pino logger whose lines the test reads back, in the order they were written. */
export function capturingLogger() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() !== "") lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}
