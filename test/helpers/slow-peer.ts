import type net from "node:net";

/**
 * Writes `text` one character every `everyMs` ms, as a slowloris peer does; resolves when all of it
 * is sent or the socket closes, whichever comes first (bounded by the text's length).
 */
export function dribble(socket: net.Socket, text: string, everyMs: number): Promise<void> {
  return new Promise((resolve) => {
    let i = 0;
    const timer = setInterval(() => {
      if (i >= text.length || socket.destroyed || socket.writableEnded) {
        clearInterval(timer);
        resolve();
        return;
      }
      socket.write(text[i++]!);
    }, everyMs);
    socket.once("close", () => {
      clearInterval(timer);
      resolve();
    });
  });
}
