import { NetlabError, type NetlabErrorOptions } from "@netlab/core";

/**
 * Every code a chat server or client reports. The same codes appear in JSON `error` events, in
 * text-mode error lines (`! message [CODE]`) and on `ChatError.code`.
 */
export type ChatErrorCode =
  | "NICK_INVALID"
  | "NICK_TAKEN"
  | "ROOM_INVALID"
  | "NO_SUCH_NICK"
  | "UNKNOWN_COMMAND"
  | "BAD_ARGUMENTS"
  | "BAD_MESSAGE"
  | "FRAME_TOO_LARGE"
  | "INVALID_UTF8"
  | "HELLO_TOO_LATE"
  | "UNSUPPORTED_PROTOCOL"
  | "FLOOD"
  | "TOO_MANY_ERRORS"
  | "SLOW_CONSUMER"
  | "IDLE_TIMEOUT"
  | "LINE_TIMEOUT"
  | "SERVER_FULL"
  | "NOT_CONNECTED"
  | "STALLED"
  | "RECONNECT_FAILED"
  /** The server requires a token (`/auth TOKEN`, `hello.token`) before anything else. */
  | "AUTH_REQUIRED"
  /** The server refused the token (or this address failed too often, too fast). */
  | "AUTH_FAILED"
  /** A listen-only (`:ro`) token: messages, actions, private messages and nick changes are refused. */
  | "READ_ONLY"
  /** The nick is bound to the token (`name:` in the token file) and cannot change. */
  | "NICK_BOUND"
  /** Another connection took this session's nick with its reclaim token: this one is closed. */
  | "NICK_RECLAIMED"
  /**
   * Client side: the server speaks a binary protocol (a lab files server, TLS), not lines. Server
   * side: a TLS client on a plaintext chat port.
   */
  | "WRONG_PROTOCOL";

/**
 * A chat rule broken or a chat-level fault.
 * @example throw new ChatError("NICK_TAKEN", 'nick "alice" is already taken', { hint: "choose another with /nick NAME" })
 */
export class ChatError extends NetlabError<ChatErrorCode> {
  constructor(code: ChatErrorCode, message: string, options: NetlabErrorOptions = {}) {
    super(code, message, options);
  }
}
