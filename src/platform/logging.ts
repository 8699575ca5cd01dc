import pino, { type Logger } from "pino";

/** JSON logs with secrets redacted wherever they might appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
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
