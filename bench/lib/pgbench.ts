/**
 * pgbench's default TPC-B-like script as a baseline: a scratch database on the same PostgreSQL
 * server as Ludus, initialised once, then run as often as a benchmark needs (with the client count
 * of the run it is compared with), each run's tps "without initial connection time" and latency
 * percentiles from pgbench's per-transaction log. Uses the system `pgbench` (any version from 15
 * works against the embedded 18).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { databaseUrl, quoteIdent, withClient } from "./ludus.ts";

const execFileAsync = promisify(execFile);

export interface PgbenchRun {
  clients: number;
  tps: number;
  transactions: number;
  p50: number;
  p99: number;
  mean: number;
}

export interface Pgbench {
  initSeconds: number;
  run(clients: number, seconds: number): Promise<PgbenchRun>;
  drop(): Promise<void>;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Creates and initialises (`pgbench -i -s scale`) a scratch database on the server. */
export async function preparePgbench(serverUrl: string, scale: number): Promise<Pgbench> {
  const scratch = `ludus_pgbench_${process.pid}_${randomBytes(4).toString("hex")}`;
  const url = new URL(databaseUrl(serverUrl, scratch));
  // The password goes in the environment, not on a command line other users can read.
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
  url.password = "";
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(scratch)}`));
  const drop = () =>
    withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)} WITH (FORCE)`)).then(
      () => undefined,
    );
  try {
    const started = performance.now();
    await execFileAsync("pgbench", ["-i", "-q", "-s", String(scale), url.toString()], { env });
    const initSeconds = (performance.now() - started) / 1000;
    return {
      initSeconds,
      drop,
      async run(clients, seconds) {
        const logDir = await mkdtemp(path.join(os.tmpdir(), "ludus-pgbench-"));
        try {
          const { stdout } = await execFileAsync(
            "pgbench",
            [
              "-c",
              String(clients),
              "-j",
              String(Math.min(2, clients)),
              "-T",
              String(seconds),
              "-n",
              "-l",
              `--log-prefix=${path.join(logDir, "pgbench")}`,
              url.toString(),
            ],
            { env },
          );
          const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
          if (tps === undefined) throw new Error(`could not read tps from pgbench:\n${stdout}`);
          // Per-transaction log: "client_id transaction_no time script_no time_epoch time_us", time in µs.
          const latencies: number[] = [];
          for (const file of await readdir(logDir)) {
            for (const line of (await readFile(path.join(logDir, file), "utf8")).split("\n")) {
              const micros = Number(line.split(" ")[2]);
              if (line !== "" && Number.isFinite(micros)) latencies.push(micros / 1000);
            }
          }
          const sorted = Float64Array.from(latencies).sort();
          return {
            clients,
            tps: Number(tps),
            transactions: sorted.length,
            p50: percentile(sorted, 50),
            p99: percentile(sorted, 99),
            mean: sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length),
          };
        } finally {
          await rm(logDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await drop();
    throw error;
  }
}
