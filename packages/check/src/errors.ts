import { NetlabError, optionChecks } from "@netlab/core";

/** Why `lab check` could not grade a target at all (a failing test is a result, not an error). */
export type CheckErrorCode =
  | "UNKNOWN_PROFILE"
  | "UNKNOWN_TEST"
  | "NOT_LISTENING"
  | "NOT_A_SOCKET"
  | "PERMISSION_DENIED"
  | "TARGET_EXITED"
  | "TARGET_SPEAKS_TLS"
  | "PORT_PLACEHOLDER_MISSING"
  | "MISSING_INPUT"
  | "INVALID_OPTION";

/**
 * An error that stops a check before or between tests: unknown profile, a target that never
 * listened (the CLI exits 3), a command that exited early (its stderr tail is in the message).
 * @example throw new CheckError("UNKNOWN_PROFILE", `unknown profile "ecco"`, { hint: "choose one of: echo, line" })
 */
export class CheckError extends NetlabError<CheckErrorCode> {}

export const { requireInt, requirePositiveInt, requireMs } = optionChecks(CheckError);
