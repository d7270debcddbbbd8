import diagnostics from "node:diagnostics_channel";

/**
 * What `chatChannel` publishes: the room events of every chat server in the process, for event
 * logs (`lab server --events`). `text` is the message body; subscribers decide whether to keep it.
 */
export type ChatWireEvent =
  | { type: "join"; room: string; nick: string }
  | { type: "leave"; room: string; nick: string; reason: string }
  | { type: "nick"; from: string; to: string }
  | { type: "message"; room: string; from: string; text: string; action: boolean };

/**
 * `netlab:chat`: every chat server's joins, leaves, nick changes and messages. Nothing is built
 * while nobody subscribes.
 * @example chatChannel.subscribe((e) => console.log((e as ChatWireEvent).type));
 */
export const chatChannel = diagnostics.channel("netlab:chat");
