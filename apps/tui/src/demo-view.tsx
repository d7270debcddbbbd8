import { render } from "ink";
import type { ComponentType } from "react";
import { COLOR_THEME, PLAIN_THEME, ThemeContext, wantsNoColor } from "./theme.js";

/** Where and how {@link renderScene} draws. */
export interface SceneViewOptions {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  /** Honour NO_COLOR from here. */
  env: NodeJS.ProcessEnv;
}

/**
 * Draws a scene's app for `lab` with Ink: the Ink and React half of `runDemo`, loaded only once
 * the lab's sockets are on their way (see demo.ts).
 */
export function renderScene<L>(Scene: ComponentType<{ lab: L }>, lab: L, opts: SceneViewOptions) {
  const theme = wantsNoColor(opts.env) ? PLAIN_THEME : COLOR_THEME;
  return render(
    <ThemeContext.Provider value={theme}>
      <Scene lab={lab} />
    </ThemeContext.Provider>,
    // A full frame costs tens of ms to lay out on a busy machine; 20 fps is smooth enough for text.
    { stdout: opts.stdout, stdin: opts.stdin, exitOnCtrlC: false, patchConsole: true, maxFps: 20 },
  );
}
