/** Settings, formatting and machine sampling shared by the benchmarks. */
import { execFileSync } from "node:child_process";
import os from "node:os";
import type { LoadSummary } from "./load.ts";

export function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

export function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) fail(`${name} must be an integer >= ${min}`);
  return value;
}

export const fmt = (n: number, digits = 1) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Busy and total time of all cores so far, in the units of os.cpus() (ms). */
export function machineCpu(): { busy: number; total: number } {
  return os.cpus().reduce(
    (acc, cpu) => {
      const t = cpu.times;
      const busy = t.user + t.nice + t.sys + t.irq;
      return { busy: acc.busy + busy, total: acc.total + busy + t.idle };
    },
    { busy: 0, total: 0 },
  );
}

/** Share of all cores' time spent busy over the next `ms` milliseconds. */
export async function cpuBusyShare(ms: number): Promise<number> {
  const before = machineCpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineCpu();
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : 0;
}

/** Prints the machine line and warns when it is not idle. */
export async function describeMachine(): Promise<void> {
  const cores = os.availableParallelism();
  console.log(
    `  machine: ${cores} cores (${os.cpus()[0]?.model.trim() ?? "unknown CPU"}), node ${process.version}, ` +
      `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}`,
  );
  const busy = await cpuBusyShare(1000);
  console.log(
    `  CPU busy before the run: ${fmt(100 * busy, 0)}% (1 s sample), load average ${fmt(os.loadavg()[0] ?? 0, 2)} (1 min)`,
  );
  if (busy > 0.1) {
    console.log("  WARNING: the machine is not idle; other work competes with the benchmark for CPU");
  }
}

/** A run where more than this share of requests failed measures the failure path, not the endpoint. */
export const MAX_FAILURE_SHARE = 0.01;

export function failures(s: LoadSummary): number {
  return s.non2xx + s.errors;
}

export function isInvalid(s: LoadSummary): boolean {
  return s.responses === 0 || failures(s) > MAX_FAILURE_SHARE * s.responses;
}

export function describeRun(s: LoadSummary): string {
  const codes = Object.entries(s.statusCodes)
    .map(([code, n]) => `${code}: ${n}`)
    .join(", ");
  return `${s.title}: ${s.responses} responses in ${s.durationSeconds.toFixed(1)} s (${codes}), ${s.errors} errors, ${s.timeouts} timeouts`;
}

/** The commit being measured, and whether the code or content differs from it (`git` in BENCH_ROOT). */
export function describeSource(root: string): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
    const commit = git("rev-parse", "--short", "HEAD");
    const changed = git("status", "--porcelain", "--", "src", "migrations", "content");
    return changed === ""
      ? `commit ${commit}`
      : `commit ${commit} + uncommitted changes in src/migrations/content`;
  } catch {
    return "unknown (no git)";
  }
}
