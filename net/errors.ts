// errors.ts: SyrupError, the one error type crossing the syrupd protocol: a stable code, a message naming the problem, optional details.

/** Codes a caller can branch on; the message says what exactly was wrong. */
export type SyrupErrorCode =
  | 'EBADREQUEST' // malformed JSON or a field of the wrong shape
  | 'EMSGSIZE' // a request line longer than the daemon accepts
  | 'EUNKNOWNOP'
  | 'EUNKNOWNHOOK'
  | 'ECOMPILE' // clang rejected the policy file; details = diagnostics
  | 'EVERIFIER' // the kernel verifier rejected the program; details = relevant log
  | 'EBPFLOAD' // any other load failure (map creation, missing kernel feature)
  | 'EPORTOWNER' // the caller owns no socket on the port, or another user does
  | 'EPORTCLAIMED' // another policy already schedules that port on that hook
  | 'EEXECUTOR' // an executor fd is not a suitable socket
  | 'EIFACE' // no such interface, or its XDP mode conflicts
  | 'ENOOFFLOAD' // the NIC cannot run XDP programs in hardware
  | 'ENOPOLICY' // no such policy (or not the caller's)
  | 'ENOMAP'
  | 'EPERM'
  | 'ENOTARGET' // request.target names no process (or it exited)
  | 'ECONNECTION' // client side: syrupd unreachable or gone
  | 'EINTERNAL';

export class SyrupError extends Error {
  readonly code: SyrupErrorCode;
  readonly details?: string;

  constructor(code: SyrupErrorCode, message: string, details?: string) {
    super(message);
    this.name = 'SyrupError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }

  toJSON(): { code: SyrupErrorCode; message: string; details?: string } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}
