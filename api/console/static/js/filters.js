// Metadata filters typed as `key=value` lines. Values that read as JSON numbers or booleans
// are sent as such (a year stored as 2024 matches only the number 2024); quote a value to
// send it as text ("2024").

/** {key: value} from the lines of `text`; throws an Error naming the first bad line. */
export function parseFilters(text) {
  const filters = {};
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    const eq = line.indexOf("=");
    const key = eq < 0 ? "" : line.slice(0, eq).trim();
    if (!key) throw new Error(`filter line ${index + 1} is not key=value: ${line}`);
    filters[key] = scalar(line.slice(eq + 1).trim());
  });
  return Object.keys(filters).length ? filters : null;
}

function scalar(value) {
  if (/^".*"$/.test(value)) return value.slice(1, -1);
  if (value === "true" || value === "false") return value === "true";
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) return Number(value);
  return value;
}
