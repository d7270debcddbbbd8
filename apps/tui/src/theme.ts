import { createContext, useContext } from "react";
import type { ClientState, LineKind, ServerStatus } from "./model.js";

/** Colours by meaning. Every value is `undefined` under NO_COLOR: shapes and words still differ. */
export interface Theme {
  accent: string | undefined;
  dim: string | undefined;
  ok: string | undefined;
  warn: string | undefined;
  bad: string | undefined;
  out: string | undefined;
  in: string | undefined;
  mark: string | undefined;
  /** Whether dim text should be rendered dim (kept under NO_COLOR: it is not a colour). */
  isColor: boolean;
}

/** The colour theme. */
export const COLOR_THEME: Theme = {
  accent: "cyan",
  dim: "gray",
  ok: "green",
  warn: "yellow",
  bad: "red",
  out: "magenta",
  in: "blue",
  mark: "yellow",
  isColor: true,
};

/** The theme under NO_COLOR: no colours at all. */
export const PLAIN_THEME: Theme = {
  accent: undefined,
  dim: undefined,
  ok: undefined,
  warn: undefined,
  bad: undefined,
  out: undefined,
  in: undefined,
  mark: undefined,
  isColor: false,
};

/** Whether the environment asks for no colour (https://no-color.org: set and not empty). */
export function wantsNoColor(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== "";
}

export const ThemeContext = createContext<Theme>(COLOR_THEME);

/** The current theme. */
export function useTheme(): Theme {
  return useContext(ThemeContext);
}

/** The colour for a client state. */
export function stateColor(theme: Theme, state: ClientState | ServerStatus): string | undefined {
  if (state === "connected" || state === "listening") return theme.ok;
  if (state === "closed" || state === "stopped") return theme.bad;
  return theme.warn;
}

/** The glyph for a state: filled when up, hollow when on the way, a cross when down. */
export function stateGlyph(state: ClientState | ServerStatus): string {
  if (state === "connected" || state === "listening") return "●";
  if (state === "closed" || state === "stopped") return "✖";
  return "○";
}

/** The colour for a transcript line. */
export function lineColor(theme: Theme, kind: LineKind): string | undefined {
  if (kind === "error") return theme.bad;
  if (kind === "warn") return theme.warn;
  if (kind === "info") return theme.dim;
  return undefined;
}
