// syrupd.ts: the syrupd command: parse flags, start SyrupDaemon, stop it cleanly (policies removed) on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { SyrupDaemon } from './daemon.ts';
import { OptionsError, resolveSyrupdOptions, SYRUPD_DEFAULTS, type SyrupdOptions } from './options.ts';

export const USAGE = `Usage: syrupd [options]

Deploys applications' network scheduling policies (C files built on syrup.h)
at the socket_select, xdp_skb, xdp_drv, cpu_redirect and xdp_offload hooks.
Apps connect over a Unix socket (see net/client.ts, deployPolicy()); each
policy lives until the app removes it or its connection closes.
Must run as root.

  --socket PATH            Unix socket to listen on (default: ${SYRUPD_DEFAULTS.socketPath})
  --pin-root DIR           BPF filesystem directory for pinned maps (default: ${SYRUPD_DEFAULTS.pinRoot})
  --cache-dir DIR          compiled-policy cache (default: ${SYRUPD_DEFAULTS.cacheDir})
  --clang PATH             compiler for policies (default: ${SYRUPD_DEFAULTS.clang})
  --max-message-bytes N    longest request accepted (default: ${SYRUPD_DEFAULTS.maxMessageBytes})
  --log-level LEVEL        pino level: debug, info, warn, error (default: info)
  -h, --help               this text

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 runtime failure, 2 bad input.
Logs are JSON lines (pino) on stdout. List deployed policies with syrupctl.`;

export function parseSyrupdCli(argv: string[]): { options: SyrupdOptions; logLevel: string } | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        socket: { type: 'string' },
        'pin-root': { type: 'string' },
        'cache-dir': { type: 'string' },
        clang: { type: 'string' },
        'max-message-bytes': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  if (values.help) return 'help';
  const partial: Partial<SyrupdOptions> = {};
  if (values.socket !== undefined) partial.socketPath = values.socket;
  if (values['pin-root'] !== undefined) partial.pinRoot = values['pin-root'];
  if (values['cache-dir'] !== undefined) partial.cacheDir = values['cache-dir'];
  if (values.clang !== undefined) partial.clang = values.clang;
  if (values['max-message-bytes'] !== undefined) {
    const n = Number(values['max-message-bytes']);
    if (!Number.isInteger(n)) throw new OptionsError('--max-message-bytes must be an integer');
    partial.maxMessageBytes = n;
  }
  const logLevel = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel))
    throw new OptionsError('--log-level must be debug, info, warn, error or silent');
  return { options: resolveSyrupdOptions(partial), logLevel };
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSyrupdCli(argv);
  } catch (err) {
    process.stderr.write(`syrupd: ${(err as Error).message}\n${USAGE.split('\n')[0]}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("syrupd: must run as root (it loads BPF programs and takes sockets from apps' processes)\n");
    return 2;
  }
  const log = pino({ level: parsed.logLevel, base: { svc: 'syrupd' } });
  const daemon = new SyrupDaemon(parsed.options, log);
  try {
    await daemon.start();
  } catch (err) {
    log.error({ err }, 'cannot start');
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping: removing all policies');
      daemon.stop().then(
        () => resolve(0),
        (err) => {
          log.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
