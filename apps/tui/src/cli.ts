// What `lab demo` needs from @netlab/tui, and the entry of the one-file bundle (scripts/bundle.mjs):
// nothing here imports Ink or React until a demo is drawn.
export { type DemoOptions, runDemo, SCENES, type Scene } from "./demo.js";
export { DemoError, type DemoErrorCode, ScriptError, type ScriptErrorCode } from "./errors.js";
export { type RunScriptOptions, runScript } from "./headless.js";
