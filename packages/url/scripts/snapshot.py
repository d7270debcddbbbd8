#!/usr/bin/env python3
"""Runs the @netlab/url differential corpus through Python's urllib.parse.

    python3 packages/url/scripts/snapshot.py            # rewrite test/fixtures/python-snapshot.json
    python3 packages/url/scripts/snapshot.py --stdout   # print the same JSON (pnpm test:interop)
    python3 packages/url/scripts/snapshot.py --stdin    # run the cases given as JSON on stdin

Each case is {"fn", "args", "kwargs"} plus either "result" or "error" ({"type", "message"}).
Bytes travel as {"$bytes": "<hex>"}; results that Python keys by dict are lists of pairs, so
order survives JSON. The TypeScript tests call the same function with the same arguments and
expect the same result, or an error with the same message.
"""

import json
import os
import sys
import urllib.parse as up

# --- the corpus: ordinary, odd and hostile -----------------------------------------------------

ORDINARY = [
    "https://example.com/employees/name/?salary>=25000#top",
    "http://www.python.org/",
    "http://www.python.org/doc/#frag",
    "http://www.python.org:80/doc/?query=yes#frag",
    "https://user:pass@example.com:8443/path/to/page.html?a=1&b=2#section-2",
    "ftp://ftp.example.org/pub/file.txt",
    "ftp://user@ftp.example.org:2121/pub;type=i",
    "file:///etc/passwd",
    "file://localhost/etc/hosts",
    "file:/tmp/junk.txt",
    "mailto:someone@example.com?subject=hi",
    "news:comp.lang.python",
    "tel:+1-816-555-1212",
    "sip:alice@atlanta.com;transport=tcp",
    "urn:isbn:0451450523",
    "data:text/plain;base64,SGVsbG8=",
    "javascript:alert(1)",
    "git+ssh://git@github.com/owner/repo.git",
    "svn+ssh://svn.example.org/repo/trunk",
    "ws://127.0.0.1:9000/socket",
    "wss://example.com/chat?room=1",
    "rtsp://media.example.com:554/stream;track=1",
    "http://127.0.0.1:5001/",
    "http://localhost:8080/api/v1/items?limit=10&offset=20",
    "https://example.com/search?q=a+b&lang=en",
    "https://example.com/a%20b/c%2Fd?x=%41#%42",
    "https://example.com/?",
    "https://example.com/#",
    "https://example.com?#",
    "http://h/a;b/c;type=d?x#y",
    "http://h/;p",
    "http://h/a;",
    "http://h/a;b;c",
    "http://h;x/y",
    "path/to/file.html",
    "/absolute/path?query#frag",
    "//example.com/protocol-relative",
    "?just=query",
    "#just-fragment",
    "",
]

IPV6 = [
    "http://[::1]/",
    "http://[::1]:8080/path",
    "http://[2001:db8::7]/c=GB?objectClass?one",
    "http://[2001:DB8::1]:443/",
    "http://[fe80::1%eth0]:80/",
    "http://[fe80::1%25eth0]/",
    "http://[FE80::A%EN1]/",
    "http://[::ffff:192.0.2.1]/",
    "http://[::ffff:192.0.2.256]/",
    "http://[::ffff:192.0.2.01]/",
    "http://[1:2:3:4:5:6:7:8]/",
    "http://[1:2:3:4:5:6:7:8:9]/",
    "http://[1:2:3:4:5:6:7]/",
    "http://[1::2::3]/",
    "http://[::]/",
    "http://[:::1]/",
    "http://[:1]/",
    "http://[1:]/",
    "http://[12345::1]/",
    "http://[g::1]/",
    "http://[::1%]/",
    "http://[::1%a%b]/",
    "http://[127.0.0.1]/",
    "http://[0.0.0.0]:80/",
    "http://[v1.fe80::a+en1]/",
    "http://[v1.]/",
    "http://[vz.x]/",
    "http://[vF.anything]/",
    "http://[]/",
    "http://[::1/",
    "http://::1]/",
    "http://[::1]x/",
    "http://[::1]:/",
    "http://[::1]:abc/",
    "http://[::1]]/",
    "http://[[::1]/",
    "http://user@[::1]:99/",
    "http://[::1]@host/",
    "http://host/[::1]",
    "http://host/?q=[x",
    "http://host/#[",
    "http://[::1]#frag",
    "http://[::1]?q",
    "http://[::1:2:3:4:5:6]/",
    "http://[1:2:3:4:5:6:1.2.3.4]/",
    "http://[1:2:3:4:5:6:7:1.2.3.4]/",
    "http://[::1.2.3]/",
    "http://[a:b:c:d:e:f:a:b%zone]/",
]

PORTS = [
    "http://h:0/",
    "http://h:1/",
    "http://h:80/",
    "http://h:65535/",
    "http://h:65536/",
    "http://h:99999999999999999999/",
    "http://h:-1/",
    "http://h:+80/",
    "http://h: 80/",
    "http://h:8a/",
    "http://h:0080/",
    "http://h:/",
    "http://h::80/",
    "http://h:80:90/",
    "http://h:\uff18\uff10/",
    "http://h:\u0668\u0660/",
    "http://u:p@h:1234/",
    "http://h:1234@x/",
    "http://h:65535@:1/",
]

USERINFO = [
    "http://user@host/",
    "http://user:@host/",
    "http://:pass@host/",
    "http://@host/",
    "http://user:pa:ss@host/",
    "http://us@er:pass@host:1/",
    "http://a@b@c/",
    "http://user%40mail:p%3Ass@host/",
    "http://USER:PASS@HOST.Example.COM/",
    "http://HOST.EXAMPLE.com:80/",
    "HTTP://Example.COM/PATH",
    "http://@/",
    "http://:@/",
    "http://:/",
    "http://a:b@/",
]

ODD = [
    "http:",
    "http:/",
    "http://",
    "http:///",
    "http:////",
    "http://///a",
    "//",
    "///",
    "////a",
    ":",
    "://",
    "://h/p",
    ":80",
    "path:80",
    "localhost:8080",
    "localhost:8080/path",
    "1http://h/",
    "+http://h/",
    "a+b-c.d://h/",
    "h_ttp://h/",
    "ht%74p://h/",
    "C:\\Windows\\path",
    "c:/windows/path",
    "http:\\\\evil.com\\path",
    "http://a\\@b/",
    "http:evil.com",
    "http:/evil.com",
    "https:example.com/a",
    "mailto:",
    "news:",
    "tel:;x",
    "foo://h/a;b?c#d",
    "foo:a;b?c#d",
    "sip:a;b?c#d",
    "hdl:a;b/c;d",
    "x:y:z",
    "abc:def:ghi//jkl",
    "?",
    "#",
    "?#",
    "#?",
    "a?b?c",
    "a#b#c",
    "a?b#c?d#e",
    "http://h/p?q#f?g#h",
    "http://h?q/p",
    "http://h#f/p",
    "http://h/p%",
    "http://h/%zz",
    "http://h/%2",
    "http://h/%25",
    "http://h/a/./b/../c",
    "http://h/a//b///c",
    "http://h:80:80@x/",
    "HTTPS://H",
    "hTtP://h",
    "urn:ietf:rfc:2648",
    "about:blank",
    "blob:https://example.com/uuid",
    "view-source:http://h/",
    "irc://irc.example.net/#channel",
    "s3://bucket/key?versionId=1",
]

WHITESPACE = [
    "  http://h/",
    "\thttp://h/",
    "\x00http://h/",
    "\x01\x02\x1fhttp://h/",
    " \x00 \x1f http://h/ ",
    "http://h/ ",
    "http://h/\x00",
    "http://h/\x7f",
    "ht\ttp://h/",
    "http://h\n/p",
    "http://h/p\r\n",
    "http://\th\to\ts\tt/",
    "http://ho st/",
    "http://h/pa th",
    "\x0bhttp://h/",
    "\x0chttp://h/",
    "\xa0http://h/",
    "\u3000http://h/",
    "http://h/\u2028",
    "\r\nhttp://h/\r\n",
    " ",
    "\t\n",
    "\x00",
]

UNICODE = [
    "http://\u4f8b\u3048.\u30c6\u30b9\u30c8/\u30d1\u30b9",
    "http://m\u00fcnchen.de/stra\u00dfe?q=\u00fc#\u00e9",
    "https://\u0645\u062b\u0627\u0644.\u0625\u062e\u062a\u0628\u0627\u0631/",
    "http://www.python.org\uff03@evil.com/",
    "http://www.python.org\uff1f@evil.com/",
    "http://www.python.org\u2100.example.com/",
    "http://a\uff0fb/",
    "http://a\u2047b/",
    "http://\u2163.com/",
    "http://\ufb01le.com/",
    "http://\u0130STANBUL.com/",
    "http://\u03a3\u039f\u03a6\u039f\u03a3.gr/",
    "http://user\u00e9:p\u00e4ss@h\u00f6st/",
    "http://h/\U0001f600?\U0001f600=\U0001f600#\U0001f600",
    "http://[::1]/\u00e9",
    "\u00e9://h/",
    "h\u00e9:x",
    "http://\u00c9X\u00c0MPLE.com/",
    "http://h:\U0001d7e0/",
    "http://xn--nxasmq6b.com/",
]

HOSTILE = [
    "http://a/" + "x" * 5000,
    "http://" + "a" * 3000 + ".com/",
    "http://h/?" + "&".join("k%d=v%d" % (i, i) for i in range(300)),
    "http://h/" + "%" * 500,
    "http://h/" + ";" * 200,
    "http://" + "@" * 100 + "h/",
    "http://" + ":" * 100 + "/",
    "http://" + "[" * 10 + "::1" + "]" * 10 + "/",
    "x" * 2000 + ":y",
    "a" * 1000 + "1:b",
    "http://h/" + "../" * 100,
    "http://h#" + "#" * 50,
    "http://h?" + "?" * 50,
    "javascript://%0aalert(1)",
    "java\nscript:alert(1)",
    "jav\tascript:alert(1)",
    "http://evil.com%2f@good.com/",
    "http://good.com%23@evil.com/",
    "http://good.com\x00@evil.com/",
    "http://evil.com#@good.com/",
    "http://evil.com?@good.com/",
    "http://127.0.0.1%00.evil.com/",
    "http://0x7f.1/",
    "http://2130706433/",
    "http://017700000001/",
    "http://[::1]%2f@evil.com/",
]

URLS = ORDINARY + IPV6 + PORTS + USERINFO + ODD + WHITESPACE + UNICODE + HOSTILE

SCHEMES = ["http", "https", "ftp", "file", "mailto", "sip", "tel", "svn+ssh", "git", "foo", "data", ""]
TAILS = [
    "//u:p@H.example:8080/a/b;p?q=1&r#f",
    "//h/p;x;y",
    "/p;x?q",
    "p;x?q#f",
    "//[::1]:0/",
    "//h?q#f",
    "",
]
for s in SCHEMES:
    for t in TAILS:
        URLS.append((s + ":" if s else "") + t)

SPLIT_OPTION_CASES = [
    ("http://h/p?q#f", {"allow_fragments": False}),
    ("http://h/p#f?q", {"allow_fragments": False}),
    ("#f", {"allow_fragments": False}),
    ("//h/p", {"scheme": "https"}),
    ("/p?q", {"scheme": "ftp"}),
    ("h/p", {"scheme": "HTTP"}),
    ("http://h/", {"scheme": "https"}),
    ("//h/p", {"scheme": " \thttps\n "}),
    ("p;x", {"scheme": "http"}),
    ("p;x", {"scheme": "mailto"}),
]

JOIN_BASE = "http://a/b/c/d;p?q"
JOIN_REFS = [
    # RFC 3986 5.4.1 normal examples
    "g:h", "g", "./g", "g/", "/g", "//g", "?y", "g?y", "#s", "g#s", "g?y#s", ";x", "g;x",
    "g;x?y#s", "", ".", "./", "..", "../", "../g", "../..", "../../", "../../g",
    # 5.4.2 abnormal examples
    "../../../g", "../../../../g", "/./g", "/../g", "g.", ".g", "g..", "..g", "./../g", "./g/.",
    "g/./h", "g/../h", "g;x=1/./y", "g;x=1/../y", "g?y/./x", "g?y/../x", "g#s/./x", "g#s/../x",
    "http:g", "http:", "http:?y", "http:#s",
    # odd
    "//", "///", "////g", "?", "#", "g//h", "g///h", "./././g", "a/b/../../../c", "%2e%2e/g",
    "https:g", "https://x/y", "mailto:x", "HTTP:g", "\tg", " g", "g ", "[::1]", "//[::1]:80/x",
]
JOIN_PAIRS = [(JOIN_BASE, r) for r in JOIN_REFS] + [
    ("http://a/b/c/d;p?q", "g", {"allow_fragments": False}),
    ("http://a/b/c/d;p?q#f", "#g", {"allow_fragments": False}),
    ("http://a", "b"),
    ("http://a", "./b"),
    ("http://a", "../b"),
    ("http://a/", "b"),
    ("http://a/b/", "c"),
    ("http://a/b/", "../../c"),
    ("http://a/b//c/", "d"),
    ("http://a/b//c/", "../d"),
    ("http://a/b/c", "//d/e"),
    ("http://a/b/c", "https://d/e"),
    ("http://a/b/c", "https:d"),
    ("https://a/b/c", "http:d"),
    ("ftp://a/b/c", "d"),
    ("file:///etc/passwd", "hosts"),
    ("file:///etc/", "../tmp/x"),
    ("mailto:a@b", "c@d"),
    ("foo://a/b/c", "d"),
    ("foo:a/b", "c"),
    ("svn+ssh://h/r/t", "../b"),
    ("ws://h/a/b", "c?x"),
    ("http://a/b;p", ";q"),
    ("http://a/b;p", "?q"),
    ("http://a/b?q", "#f"),
    ("http://a/b?q#f", ""),
    ("", "http://x/"),
    ("", ""),
    ("http://a/b", "http://a/c"),
    ("http://a/b", "http:c"),
    ("http://a/b/c", "."),
    ("http://a/b/c", ".."),
    ("http://a/b/c", "..."),
    ("//a/b/c", "d"),
    ("/a/b/c", "../d"),
    ("a/b/c", "../d"),
    ("a/b/c", "../../../d"),
    ("a", "b"),
    ("http://[::1]/a/b", "c"),
    ("http://a/b/c", "http://[::1/"),
    ("http://u:p@a:80/b/c", "d"),
    ("http://a/%7Eb/c", "%2E%2E/d"),
    ("http://a/\u00e9/c", "\u00fc"),
    ("http://a/b/c/", "../../../../../../x"),
]

QUOTE_INPUTS = [
    "", "abc", "a b", "a+b", "a/b", "a?b", "a#b", "a&b=c", "~user", "_.-~", "100%", "%20",
    "caf\u00e9", "\u4f8b\u3048", "\U0001f600", "\x00\x01\x1f\x7f", "\u0080\u00ff",
    "!$&'()*+,;=:@[]", "\"<>\\^`{|}", "a\tb\nc\rd", "/path/with spaces/and+plus",
    " leading and trailing ", "   ", "++", "\ud800", "a\udc00b",
]
QUOTE_SAFES = [None, "", "/", "/:", "@:/?&=", " ", "~", "\u00e9", "%", "abc", "+"]

UNQUOTE_INPUTS = [
    "", "abc", "a%20b", "a+b", "a%2Bb", "%", "%%", "%2", "%zz", "%2g", "%G0", "%41%42%43",
    "%c3%a9", "%C3%A9", "%C3", "%C3%", "%C3%2", "%E2%82%AC", "%E2%82", "%E2%82%", "%F0%9F%98%80",
    "%F0%9F%98", "%80", "%FF", "%C0%AF", "%C0%80", "%ED%A0%80", "%ED%BF%BF", "%F4%90%80%80",
    "%F8%88%80%80%80", "%EF%BB%BF", "%EF%BB%BFa", "\u00e9%20\u00e9", "%E2\u20ac%82", "%C3\u00e9%A9",
    "\u00e9%", "%\u00e9", "%%41", "%4%41", "%2541", "a%00b", "%0A%0D", "100%", "%25", "%7e",
    "%E2%82%AC%E2%82%AC%E2", "%e2%82%ac+%e2%82%ac", "\U0001f600%F0%9F%98%80",
    "%F0%80%80%80", "%E0%80%80", "%C2", "%DF%BF%DF",
]

QS_INPUTS = [
    "", "a=1", "a=1&b=2", "a=1&a=2&a=3", "a=&b=", "a&b", "a", "=", "==", "=1", "a==1",
    "a=1=2", "&", "&&", "a=1&&b=2", "&a=1&", "a=b+c", "a+b=c", "a=%20", "a%3Db=c", "a=1;b=2",
    "a=1;b=2&c=3", "%E2%82%AC=%E2%82%AC", "k=%zz", "k=%C3", "\u00e9=\u00fc", "a=1&", "&a=1",
    "a=1&b", "a=1&b=", "__proto__=x", "constructor=y&toString=z", "1=a&0=b&2=c",
    "x=1&y=2&x=3&z&y=", "salary>=25000", "q=a%26b&r=c%3Dd", "a=+&b=++", "a=%2B%2B",
    "a b=c d", "%=%", "a[]=1&a[]=2", "a[b]=1", "k=v#frag", "?a=1", "a=1\nb=2",
]
QS_OPTIONS = [
    {},
    {"keep_blank_values": True},
    {"strict_parsing": True},
    {"keep_blank_values": True, "strict_parsing": True},
    {"separator": ";"},
    {"separator": ";", "keep_blank_values": True},
    {"max_num_fields": 2},
    {"max_num_fields": 0},
    {"separator": "&&"},
]

URLENCODE_CASES = [
    ([["a", "1"], ["b", "2"]], {}),
    ([["q", "a b"], ["lang", "en"]], {}),
    ([["q", "a b"], ["lang", "en"]], {"quote_via": "quote"}),
    ([["k", "a/b?c=d&e"]], {}),
    ([["k", "a/b?c=d&e"]], {"safe": "/?"}),
    ([["k", "a/b?c=d&e"]], {"safe": "/?", "quote_via": "quote"}),
    ([["caf\u00e9", "\u00fc\u00df"]], {}),
    ([["k", ["x", "y", "z"]]], {"doseq": True}),
    ([["k", ["x", "y"]]], {}),
    ([["k", []]], {"doseq": True}),
    ([["k", "xyz"]], {"doseq": True}),
    ([["n", 1], ["t", True], ["f", False], ["z", None], ["x", 1.5]], {}),
    ([["n", [1, 2]], ["t", [True, None]]], {"doseq": True}),
    ([["n", [1, "a b", None]]], {}),
    ([["", ""]], {}),
    ([], {}),
    ([["a", ""], ["", "b"]], {}),
    ([["~_.-", "~_.-"]], {}),
    ([["sp ace", "pl+us"]], {"quote_via": "quote"}),
    ([["e", "\U0001f600"]], {"doseq": True}),
    ([["k", "it's"]], {}),
    ([["k", ["it's", "a \"q\""]]], {}),
    ([["b", {"$bytes": "00ff20"}]], {}),
    ([[{"$bytes": "6b20"}, [{"$bytes": "ff"}, "v"]]], {"doseq": True}),
]

QUOTE_BYTES = ["", "00", "ff", "20", "2f", "c3a9", "616263", "7e5f2e2d"]


def from_json(v):
    if isinstance(v, dict) and "$bytes" in v:
        return bytes.fromhex(v["$bytes"])
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def netloc_attrs(r):
    out = {"username": r.username, "password": r.password, "hostname": r.hostname}
    try:
        out["port"] = r.port
    except ValueError as e:
        out["port"] = {"error": {"type": type(e).__name__, "message": str(e)}}
    return out


def run(fn, *args, **kwargs):
    case = {"fn": fn, "args": list(args), "kwargs": kwargs}
    py_args = [from_json(a) for a in args]
    py_kwargs = {k: from_json(v) for k, v in kwargs.items()}
    if "quote_via" in py_kwargs:
        py_kwargs["quote_via"] = getattr(up, py_kwargs["quote_via"])
    try:
        if fn == "urlsplit":
            r = up.urlsplit(*py_args, **py_kwargs)
            result = {"parts": list(r), **netloc_attrs(r), "unsplit": up.urlunsplit(r)}
        elif fn == "urlparse":
            r = up.urlparse(*py_args, **py_kwargs)
            result = {"parts": list(r), **netloc_attrs(r), "unparse": up.urlunparse(r)}
        elif fn == "urldefrag":
            r = up.urldefrag(*py_args)
            result = [r.url, r.fragment]
        elif fn == "parse_qs":
            result = [[k, v] for k, v in up.parse_qs(*py_args, **py_kwargs).items()]
        elif fn == "parse_qsl":
            result = [list(p) for p in up.parse_qsl(*py_args, **py_kwargs)]
        elif fn == "urlencode":
            query = [tuple(p) for p in py_args[0]]
            result = up.urlencode(query, **py_kwargs)
        else:
            result = getattr(up, fn)(*py_args, **py_kwargs)
        case["result"] = result
    except (ValueError, UnicodeError) as e:
        case["error"] = {"type": type(e).__name__, "message": str(e)}
    return case


def build():
    cases = []
    for u in URLS:
        cases.append(run("urlsplit", u))
        cases.append(run("urlparse", u))
        if "#" in u:
            cases.append(run("urldefrag", u))
    for u, kw in SPLIT_OPTION_CASES:
        cases.append(run("urlsplit", u, **kw))
        cases.append(run("urlparse", u, **kw))
    for pair in JOIN_PAIRS:
        kw = pair[2] if len(pair) > 2 else {}
        cases.append(run("urljoin", pair[0], pair[1], **kw))
    for s in QUOTE_INPUTS:
        for safe in QUOTE_SAFES:
            kw = {} if safe is None else {"safe": safe}
            cases.append(run("quote", s, **kw))
            cases.append(run("quote_plus", s, **kw))
    for h in QUOTE_BYTES:
        cases.append(run("quote", {"$bytes": h}))
        cases.append(run("quote_plus", {"$bytes": h + "20"}, safe="/"))
    for s in UNQUOTE_INPUTS + QUOTE_INPUTS[:-2]:
        cases.append(run("unquote", s))
        cases.append(run("unquote_plus", s))
    for q in QS_INPUTS:
        for opts in QS_OPTIONS:
            cases.append(run("parse_qsl", q, **opts))
            cases.append(run("parse_qs", q, **opts))
    for query, kw in URLENCODE_CASES:
        cases.append(run("urlencode", query, **kw))
    return {
        "python": sys.version.split()[0],
        "generator": "packages/url/scripts/snapshot.py",
        "urls": len(URLS) + len(SPLIT_OPTION_CASES),
        "cases": cases,
    }


def main():
    if "--stdin" in sys.argv:
        calls = json.load(sys.stdin)
        out = [run(c["fn"], *c["args"], **c.get("kwargs", {})) for c in calls]
        sys.stdout.write(json.dumps({"python": sys.version.split()[0], "cases": out}, ensure_ascii=True) + "\n")
        return
    text = json.dumps(build(), ensure_ascii=True, indent=1) + "\n"
    if "--stdout" in sys.argv:
        sys.stdout.write(text)
        return
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "test", "fixtures", "python-snapshot.json")
    with open(out, "w", encoding="ascii") as f:
        f.write(text)
    print(f"wrote {os.path.normpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
