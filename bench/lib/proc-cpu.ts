/**
 * CPU time of a PostgreSQL server running on this machine, read from /proc (Linux only): the
 * postmaster's own time and the time of the backends it has reaped (cutime, cstime), plus the time
 * of the backends still running. So connections that come and go during a run are counted too.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

function clockTicks(): number {
  try {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

const TICKS = clockTicks();

interface Stat {
  comm: string;
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime of reaped children, in ticks. */
  children: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state) of proc(5): ppid is field 4, utime..cstime are fields 14..17.
  const at = (field: number) => Number(fields[field - 3]);
  return {
    comm: text.slice(open + 1, close),
    ppid: at(4),
    own: at(14) + at(15),
    children: at(16) + at(17),
  };
}

export interface ServerCpuSample {
  /** CPU seconds the server has used so far: postmaster, reaped and live processes. */
  total: number;
  /** The same by kind of process: "client backends", "walwriter", "autovacuum worker", …, and
   * "exited processes" (reaped by the postmaster, so no longer attributable). */
  byKind: Map<string, number>;
}

export interface ServerCpu {
  postmasterPid: number;
  sample(): ServerCpuSample;
}

/** What a postmaster child is, from its command line ("postgres: walwriter", "postgres: user db host(port) idle"). */
function kindOf(pid: number): string {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "other";
  }
  const title = cmdline.replace(/^postgres:\s*/, "");
  if (/\(\d+\)|\[local\]/.test(title)) return "client backends";
  return (
    title
      .replace(/^(autovacuum worker|io worker|parallel worker).*$/, "$1")
      .replace(/\s*\d+$/, "")
      .trim() || "other"
  );
}

/**
 * Finds the postmaster from the pid of one of its backends (SELECT pg_backend_pid()), or returns
 * undefined when that process is not visible here (PostgreSQL on another machine or in a container).
 */
export function serverCpu(backendPid: number): ServerCpu | undefined {
  const backend = readStat(backendPid);
  if (backend === undefined || !backend.comm.startsWith("postgres")) return undefined;
  const postmasterPid = backend.ppid;
  const postmaster = readStat(postmasterPid);
  if (postmaster === undefined || !postmaster.comm.startsWith("postgres")) return undefined;
  return {
    postmasterPid,
    sample() {
      const byKind = new Map<string, number>();
      const add = (kind: string, ticks: number) => byKind.set(kind, (byKind.get(kind) ?? 0) + ticks / TICKS);
      const root = readStat(postmasterPid);
      if (root === undefined) return { total: 0, byKind };
      add("postmaster", root.own);
      add("exited processes", root.children);
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const pid = Number(entry);
        const stat = readStat(pid);
        if (stat !== undefined && stat.ppid === postmasterPid) add(kindOf(pid), stat.own);
      }
      let total = 0;
      for (const seconds of byKind.values()) total += seconds;
      return { total, byKind };
    },
  };
}

/** CPU seconds by kind of process between two samples, largest first (kinds that used none left out). */
export function cpuByKind(before: ServerCpuSample, after: ServerCpuSample): [string, number][] {
  const kinds = new Set([...before.byKind.keys(), ...after.byKind.keys()]);
  return [...kinds]
    .map((k): [string, number] => [k, (after.byKind.get(k) ?? 0) - (before.byKind.get(k) ?? 0)])
    .filter(([, seconds]) => seconds > 0)
    .sort((a, b) => b[1] - a[1]);
}
