// abi.test.ts: agent/abi.ts must match kernel-shim/syrup_abi.h: every struct size, field offset, enum value and constant.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as abi from '../agent/abi.ts';
import { native } from '../agent/native.ts';
import { ROOT } from './helpers/live.ts';

const structs: [string, abi.StructLayout][] = [
  ['syr_msg', abi.MSG],
  ['syr_kstat', abi.KSTAT],
  ['syr_task', abi.TASK],
  ['syr_txn_req', abi.TXN_REQ],
  ['syr_cpu', abi.CPU],
  ['syr_hdr', abi.HDR],
  ['syr_cring_cell', abi.CRING_CELL],
  ['syr_cring', abi.CRING],
  ['syr_region', abi.REGION],
];

const enums: [string, Record<string, string | number>][] = [
  ['SYR_MSG_', abi.MsgType],
  ['SYR_SRC_', abi.MsgSrc],
  ['SYR_PREEMPT_', abi.PreemptCause],
  ['SYR_KF_', abi.KFlag],
  ['SYR_SLOT_', abi.SlotState],
  ['SYR_RUN_', abi.RunState],
  ['SYR_WF_', abi.WFlag],
  ['SYR_PREEMPT_', abi.PreemptKind],
  ['SYR_TXN_', abi.TxnState],
  ['SYR_TXN_', abi.TxnResult],
  ['SYR_TXN_', abi.TxnFlag],
  ['SYR_LATCH_', abi.LatchKind],
  ['SYR_POLL_', abi.PollState],
  ['SYR_ENC_', abi.EnclaveState],
];

const constants: [string, number][] = [
  ['SYR_ABI_VERSION', abi.ABI_VERSION],
  ['SYR_MAGIC', abi.MAGIC],
  ['SYR_MAX_TASKS', abi.MAX_TASKS],
  ['SYR_MAX_CPUS', abi.MAX_CPUS],
  ['SYR_CRING_SLOTS', abi.CRING_SLOTS],
  ['SYR_NAME_MAX', abi.NAME_MAX],
  ['SYR_HANDLE_SLOT_BITS', abi.HANDLE_SLOT_BITS],
  ['SYR_HANDLE_GEN_MASK', abi.HANDLE_GEN_MASK],
  ['SYR_MSG_TYPE_COUNT', abi.MSG_TYPE_COUNT],
  ['SYR_TXN_RESULT_COUNT', abi.TXN_RESULT_COUNT],
  ['SYR_RUN_STATE_MASK', abi.RUN_STATE_MASK],
  ['SYR_RUN_GEN_SHIFT', abi.RUN_GEN_SHIFT],
];

t.test('the TypeScript mirror matches the C header', async (t) => {
  const expected = new Map<string, number>();
  const lines: string[] = [];
  const emit = (key: string, cexpr: string, value: number) => {
    expected.set(key, value);
    lines.push(`  printf("%s %llu\\n", "${key}", (unsigned long long)(${cexpr}));`);
  };
  for (const [name, layout] of structs) {
    emit(`sizeof ${name}`, `sizeof(struct ${name})`, layout.size);
    for (const [field, off] of Object.entries(layout.fields)) emit(`${name}.${field}`, `offsetof(struct ${name}, ${field})`, off);
  }
  for (const [prefix, e] of enums) {
    for (const [k, v] of Object.entries(e)) if (typeof v === 'number') emit(prefix + k, prefix + k, v);
  }
  for (const [name, v] of constants) emit(name, name, v);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syrup-abi-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'abi.c');
  fs.writeFileSync(src, `#include <stddef.h>\n#include <stdio.h>\n#include "syrup_abi.h"\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`);
  execFileSync('cc', ['-Wall', '-Werror', '-I', path.join(ROOT, 'kernel-shim'), '-o', path.join(dir, 'abi'), src]);
  const out = execFileSync(path.join(dir, 'abi'), { encoding: 'utf8' });
  const mismatches: string[] = [];
  for (const line of out.trim().split('\n')) {
    const i = line.lastIndexOf(' ');
    const key = line.slice(0, i);
    const c = Number(line.slice(i + 1));
    if (expected.get(key) !== c) mismatches.push(`${key}: C ${c}, TS ${expected.get(key)}`);
  }
  t.same(mismatches, [], 'no field, size, enum or constant differs');
  t.equal(out.trim().split('\n').length, expected.size, 'every mirrored item was checked');
});

t.test('the addon was built from the same header', async (t) => {
  const l = native.regionLayout();
  t.equal(l.region, abi.REGION.size);
  t.equal(l.task, abi.TASK.size);
  t.equal(l.msg, abi.MSG.size);
  t.equal(l.kstat, abi.KSTAT.size);
  t.equal(l.txnReq, abi.TXN_REQ.size);
});
