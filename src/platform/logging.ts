import pino, { type Logger } from "pino";

/** A URL with the values of secret-bearing query parameters (`?ticket=`) replaced. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]ticket=)[^&#]*/gi, "$1[redacted]");
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** JSON logs with secrets redacted wherever they might appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    // Fastify's request serializer, with stream tickets taken out of the URL (our serializers
    // win over Fastify's defaults).
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: typeof req.url === "string" ? redactUrl(req.url) : req.url,
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
    redact: {
      paths: [
        "req.headers.authorization",
        'req.headers["x-api-key"]',
        "req.headers.cookie",
        "*.password",
        "*.refreshToken",
        "*.accessToken",
        "*.databaseUrl",
      ],
      censor: "[redacted]",
    },
  });
}
