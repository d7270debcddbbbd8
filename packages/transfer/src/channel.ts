import diagnostics from "node:diagnostics_channel";

/**
 * What `transferChannel` publishes, from servers and clients alike: a transfer starts, moves
 * (`progress`, clients only, as often as their progress callback), ends or fails.
 */
export type TransferWireEvent =
  | { type: "start"; side: "client" | "server"; op: string; name: string; size?: number; offset?: number }
  | { type: "progress"; side: "client"; op: string; name: string; bytesDone: number; totalBytes: number }
  | {
      type: "done";
      side: "client" | "server";
      op: string;
      name: string;
      size: number;
      transferredBytes: number;
      seconds: number;
    }
  | { type: "error"; side: "client" | "server"; op: string; name?: string; code: string; message: string };

/**
 * `netlab:transfer`: every transfer of the process. Nothing is built while nobody subscribes.
 * @example transferChannel.subscribe((e) => console.log((e as TransferWireEvent).type));
 */
export const transferChannel = diagnostics.channel("netlab:transfer");
