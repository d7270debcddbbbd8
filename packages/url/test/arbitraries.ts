import fc from "fast-check";

/** Characters that matter to URL splitting, weighted so that delimiters show up often. */
const urlChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(..."abcXYZ019-._~") },
  { weight: 4, arbitrary: fc.constantFrom(..."/:?#[]@;=&%+ ") },
  { weight: 1, arbitrary: fc.constantFrom("\t", "\n", "\x00", "\x1f", "é", "\u3000", "＃", "😀", "\\") },
);

/** Strings built from {@link urlChar}. */
export const urlText = (maxLength = 30) => fc.string({ unit: urlChar, maxLength });

/** Plausible URLs: an optional scheme, an optional //netloc, then path, query and fragment text. */
export const urlLike = fc
  .tuple(
    fc.option(fc.constantFrom("http", "https", "ftp", "file", "mailto", "sip", "foo", "HTTP", "a+b"), {
      nil: undefined,
    }),
    fc.option(
      fc.tuple(
        fc.option(urlText(8), { nil: undefined }),
        fc.oneof(urlText(10), fc.constantFrom("[::1]", "[fe80::1%eth0]", "h", "")),
        fc.option(fc.oneof(fc.nat(70000).map(String), urlText(4)), { nil: undefined }),
      ),
      { nil: undefined },
    ),
    urlText(20),
  )
  .map(([scheme, netloc, rest]) => {
    let url = scheme === undefined ? "" : `${scheme}:`;
    if (netloc) {
      const [user, host, port] = netloc;
      url += `//${user === undefined ? "" : `${user}@`}${host}${port === undefined ? "" : `:${port}`}`;
    }
    return url + rest;
  });

/** Any URL-ish text at all, hostile characters included. */
export const anyUrl = fc.oneof(urlLike, urlText(40), fc.string({ maxLength: 40 }));
