import { randomBytes } from "node:crypto";

/** One part of a multipart/form-data body: a field, or a file (with a filename). */
export interface FormPart {
  name: string;
  value: string | Uint8Array;
  /** Present for a file upload: the name the server sees (curl sends the base name). */
  filename?: string;
  /** The part's Content-Type; a file defaults to application/octet-stream, as curl. */
  contentType?: string;
}

/**
 * Encodes `parts` as multipart/form-data (RFC 7578), as curl's `-F`: returns the body and the
 * Content-Type with its boundary.
 * @example const { body, contentType } = multipartForm([{ name: "a", value: "1" }]);
 */
export function multipartForm(parts: readonly FormPart[]): { body: Uint8Array; contentType: string } {
  const boundary = `------------------------${randomBytes(12).toString("hex")}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(part.name)}"`;
    if (part.filename !== undefined) head += `; filename="${quoted(part.filename)}"`;
    head += "\r\n";
    const type = part.contentType ?? (part.filename !== undefined ? "application/octet-stream" : undefined);
    if (type !== undefined) head += `Content-Type: ${type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(part.value), Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A name or filename inside quotes: `"` and line breaks percent-encoded, as browsers and curl do. */
function quoted(text: string): string {
  return text.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
