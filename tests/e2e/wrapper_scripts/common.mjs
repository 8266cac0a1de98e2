// Shared by the wrapper scripts: the options of one turn from the environment, the engine's
// process lookup through /proc, and the one JSON document each script prints on stdout.

import { readFileSync, readdirSync } from "node:fs";

/**
 * Spawn options for the real engine: one fresh session, auto-approved, in a temp work dir.
 * @returns {import("../../../wrappers/typescript/src/index.js").SpawnAgentOptions}
 */
export function turnOptions() {
  return {
    sessionId: required("WRAPPER_SESSION_ID"),
    cwd: required("WRAPPER_CWD"),
    configPath: required("WRAPPER_CONFIG"),
    approval: { mode: "yes" },
  };
}

/** @param {string} name */
export function required(name) {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
}

/** @param {unknown} document */
export function print(document) {
  process.stdout.write(`${JSON.stringify(document)}\n`);
}

/**
 * `[pid, state, ppid, pgid]` of a process, or undefined once it is gone from the table.
 * @param {string | number} pid
 */
function stat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const [state, ppid, pgid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state, ppid: Number(ppid), pgid: Number(pgid) };
}

/**
 * The pid of this process's child whose command line holds `fragment`.
 * @param {string} fragment
 */
export function childPid(fragment) {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || stat(name)?.ppid !== process.pid) continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (cmdline.includes(fragment)) return Number(name);
  }
  return undefined;
}

/** @param {number} pid */
export function processGroup(pid) {
  return stat(pid)?.pgid;
}

/**
 * Whether the pid is still in the process table (a zombie counts: nobody reaped it).
 * @param {number} pid
 */
export function inProcessTable(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * Live (non-zombie) members of a process group.
 * @param {number} pgid
 */
export function groupMembers(pgid) {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      const entry = stat(name);
      return entry !== undefined && entry.pgid === pgid && entry.state !== "Z";
    })
    .map(Number);
}
