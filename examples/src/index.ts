export { type ExampleInfo, examples } from "./registry.js";
