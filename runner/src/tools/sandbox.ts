import { spawnSync } from 'node:child_process';
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** The bubblewrap executable (Debian's `bubblewrap` package); `KILN_BWRAP` overrides it. */
function bwrapPath(): string {
  return process.env.KILN_BWRAP ?? '/usr/bin/bwrap';
}

/** Top-level system directories mounted read-only (or re-created as the symlinks they are). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt'];
/**
 * The few files of /etc a build needs (users, name resolution, TLS roots, the dynamic linker's
 * cache, Debian's alternatives); the rest of /etc stays out.
 */
const ETC_ENTRIES = [
  'passwd',
  'group',
  'hosts',
  'resolv.conf',
  'nsswitch.conf',
  'host.conf',
  'gai.conf',
  'localtime',
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'alternatives',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
];

/** Where a sandboxed command runs. */
export interface SandboxSpec {
  /** Real path of the workspace: the only writable mount, at the same path inside. */
  workspace: string;
  /** Working directory (inside the workspace). */
  cwd: string;
  command: string;
  args: readonly string[];
}

/**
 * The argv that runs `command args` under bubblewrap: a fresh PID, IPC, UTS and cgroup namespace
 * with its own /proc (the runner's processes, and their `/proc/<pid>/environ`, are not there),
 * `--die-with-parent` (killing bwrap kills everything inside), `--new-session`, all capabilities
 * dropped, read-only /usr, /bin, /lib…, a handful of /etc files, the directory of the runner's own
 * Node (so `node` is the runner's version), a private tmpfs /tmp, a minimal /dev, and the workspace
 * read-write. Nothing else of the host — the outbox, the runner's config and token, other projects'
 * workspaces, /root, /home — is mounted. The network is shared (npm install needs it). The
 * environment is the one bwrap is started with (`commandEnv`).
 */
export function sandboxArgv(spec: SandboxSpec): [string, ...string[]] {
  const args = [
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
  ];
  for (const dir of SYSTEM_DIRS) args.push(...mountOf(dir));
  for (const entry of ETC_ENTRIES) args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
  const nodeDir = path.dirname(process.execPath);
  if (!SYSTEM_DIRS.some((dir) => nodeDir.startsWith(`${dir}/`))) {
    args.push('--ro-bind', nodeDir, nodeDir);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  args.push('--bind', spec.workspace, spec.workspace, '--chdir', spec.cwd);
  return [bwrapPath(), ...args, '--', spec.command, ...spec.args];
}

/** The PATH inside the sandbox: the runner's own Node first, then the system's directories. */
export function sandboxPath(): string {
  return [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
}

function mountOf(dir: string): string[] {
  try {
    const info = lstatSync(dir);
    if (info.isSymbolicLink()) return ['--symlink', readlinkSync(dir), dir];
    return info.isDirectory() ? ['--ro-bind', dir, dir] : [];
  } catch {
    return []; // not on this system (e.g. /lib32): nothing to mount
  }
}

/** Probe results by bwrap path: the reason it is unavailable, or undefined. */
const probed = new Map<string, string | undefined>();

/**
 * Why commands cannot be sandboxed here (bwrap missing, or user namespaces disabled so it cannot
 * create its namespaces), or undefined when they can. Probed once per bwrap path by running
 * `true` in the same sandbox (a synchronous spawn of a few ms, at the first `run_command`).
 */
export function sandboxUnavailable(): string | undefined {
  const bwrap = bwrapPath();
  if (probed.has(bwrap)) return probed.get(bwrap);
  const probe = spawnSync(
    ...splitArgv(sandboxArgv({ workspace: '/tmp', cwd: '/', command: 'true', args: [] })),
    { encoding: 'utf8', timeout: 10_000, env: { PATH: sandboxPath() } },
  );
  let reason: string | undefined;
  if (probe.error) reason = `${bwrap} could not run (${probe.error.message}); install bubblewrap`;
  else if (probe.status !== 0) {
    reason = `${bwrap} could not create its sandbox (${probe.stderr.trim() || `exit ${probe.status}`}); are unprivileged user namespaces disabled?`;
  }
  probed.set(bwrap, reason);
  return reason;
}

function splitArgv([command, ...args]: [string, ...string[]]): [string, string[]] {
  return [command, args];
}
