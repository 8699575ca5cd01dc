import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  /** When it arrived, by the clock given (the test's clock: signatures are checked against it). */
  at: Date;
}

/**
 * A local HTTP server standing in for an app backend: records every request and answers with the
 * status `respond` picks (200 unless told otherwise).
 */
export async function startReceiver(
  respond: (request: Received, index: number) => number = () => 200,
  now: () => Date = () => new Date(),
) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = {
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        status: 0,
        at: now(),
      };
      r.status = respond(r, received.length);
      received.push(r);
      res.writeHead(r.status, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
