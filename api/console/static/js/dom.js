// Building the page from text nodes only: every string from the server becomes a text node, so
// a document's text can never turn into markup or script.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "selected", "open"]);

/** An element: `props` are attributes (`on*` are listeners), children are nodes or text. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (PROPERTIES.has(name)) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, ...children);
  return el;
}

/** Append nodes and text (null, undefined and false are skipped; arrays are flattened). */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

/** A screen's heading, focused after navigation (main.js), naming the KB when there is one. */
export function screenTitle(title, kb) {
  const props = { id: "screen-title", tabindex: "-1" };
  if (kb === undefined) return h("h2", props, title);
  return h("h2", props, `${title}: `, h("span", { class: "kb-name" }, kb));
}

const STOPWORDS = new Set(
  (
    "a an and are as at be by did do does for from has have how in is it its of on or the to " +
    "was were what when where which who why with"
  ).split(" "),
);

/** The words of a query worth highlighting: lower-cased, no stopwords, no duplicates. */
export function queryTerms(query) {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => w.length > 1 && !STOPWORDS.has(w)))];
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `text` with the query's terms in <mark>: whole words, or word starts for terms of 4+. */
export function highlighted(text, query) {
  const terms = queryTerms(query);
  const fragment = document.createDocumentFragment();
  if (!terms.length) {
    fragment.append(text);
    return fragment;
  }
  // Longest first, so "revenues" is marked whole rather than as "revenue" + "s".
  const alternatives = terms
    .sort((a, b) => b.length - a.length)
    .map((t) => (t.length >= 4 ? `${escapeRegExp(t)}[\\p{L}\\p{N}]*` : escapeRegExp(t)));
  const pattern = new RegExp(
    `(?<![\\p{L}\\p{N}])(?:${alternatives.join("|")})(?![\\p{L}\\p{N}])`,
    "giu",
  );
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    fragment.append(text.slice(last, match.index), h("mark", {}, match[0]));
    last = match.index + match[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

/** An error box: the API's `error.message` (and code), read out by screen readers. */
export function errorBox(error) {
  const code = error?.code ? ` (${error.code})` : "";
  return h("p", { class: "error", role: "alert" }, `${error?.message ?? String(error)}${code}`);
}

/** A status line for progress and results, announced politely. */
export const statusLine = (text = "") => h("p", { class: "status", role: "status" }, text);

export const fmtScore = (score) => (Number.isFinite(score) ? score.toFixed(4) : String(score));
export const fmtPage = (page) => (page === null || page === undefined ? "no page" : `page ${page}`);

/** An ISO time as the reader's local date and time. */
export function fmtTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A labelled form field: <label> and control, tied by id. */
export function field(label, control, hint) {
  const hintEl = hint ? h("small", { id: `${control.id}-hint`, class: "hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

/** A <select> of `options` ([value, label] or value), `selected` chosen. */
export function select(id, options, selected) {
  return h(
    "select",
    { id, name: id },
    options.map((o) => {
      const [value, label] = Array.isArray(o) ? o : [o, o];
      return h("option", { value, selected: value === selected }, label);
    }),
  );
}

/** A table: `columns` are [label, cell(row)]; each cell carries its label for phone widths. */
export function table(caption, columns, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "sr-only" }, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map(([label]) => h("th", { scope: "col" }, label)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            {},
            columns.map(([label, cell]) => h("td", { "data-label": label }, cell(row))),
          ),
        ),
      ),
    ),
  );
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmAction(title, message, action) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: "confirm-title" }, title),
        h("p", {}, message),
        h(
          "div",
          { class: "actions" },
          h("button", { value: "cancel", autofocus: true }, "Cancel"),
          h("button", { value: "confirm", class: "danger" }, action),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
