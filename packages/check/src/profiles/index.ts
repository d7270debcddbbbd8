import type { Profile } from "../types.js";
import { chatProfile } from "./chat.js";
import { echoProfile } from "./echo.js";
import { httpProfile } from "./http.js";
import { lineProfile } from "./line.js";
import { transferProfile } from "./transfer.js";

/** Every profile by name, in the order `lab check --help` lists them. */
export const PROFILES: Readonly<Record<string, Profile>> = {
  echo: echoProfile,
  line: lineProfile,
  chat: chatProfile,
  transfer: transferProfile,
  http: httpProfile,
};
