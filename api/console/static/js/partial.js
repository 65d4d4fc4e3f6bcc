// The answer streams as the JSON text the model writes (`{"answer":"The ...`). To show the
// words as they come, read the string value of one key from that unfinished text.

const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** The (possibly unfinished) string value of `key` in unfinished JSON text; null before it. */
export function partialString(text, key) {
  const match = new RegExp(`"${key}"\\s*:\\s*"`).exec(text);
  if (!match) return null;
  let out = "";
  for (let i = match.index + match[0].length; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') return out;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) return out; // the escape is cut: wait for the rest
    if (next === "u") {
      const hex = text.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) return out;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 5;
    } else {
      out += ESCAPES[next] ?? next;
      i += 1;
    }
  }
  return out;
}
