export { CLIENT_TESTS, type ClientCheckOptions, runClientCheck } from "./client-role.js";
export {
  CONN_DEFAULTS,
  Conn,
  type ConnOptions,
  type EndState,
  formatTarget,
  type Transcript,
  WaitTimeout,
} from "./conn.js";
export { CheckError, type CheckErrorCode } from "./errors.js";
export { type FailureInfo, fail, TestFailure } from "./failure.js";
export { hexExcerpt, showBytes } from "./hex.js";
export { GENERATED_FILE_BYTES, makeInputs, seededBytes } from "./inputs.js";
export { UNREAD_OFFER_BYTES } from "./profiles/echo.js";
export { HTTP_FILES } from "./profiles/http.js";
export { PROFILES } from "./profiles/index.js";
export { formatHuman, humanHeader, humanResult, humanSummary } from "./report/human.js";
export { formatJson, REPORT_FORMAT } from "./report/json.js";
export { formatJunit } from "./report/junit.js";
export { formatTap } from "./report/tap.js";
export {
  CHECK_DEFAULTS,
  type CheckOptions,
  type CheckRunOptions,
  getProfile,
  looksLikeTls,
  runCheck,
  selectTests,
} from "./runner.js";
export {
  parseAddress,
  SOCKET_FILE_NAME,
  type StartedTarget,
  type StartTargetOptions,
  startTarget,
  TARGET_DEFAULTS,
} from "./target.js";
export { writeTranscript } from "./transcript.js";
export type { CheckInputs, CheckReport, CheckTest, Profile, TestContext, TestResult } from "./types.js";
