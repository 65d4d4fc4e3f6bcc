// Keys (admins only): the tenant's API keys, a new key shown once, revoking a key.

import { call } from "../api.js";
import {
  confirmAction,
  errorBox,
  field,
  fmtTime,
  h,
  replace,
  screenTitle,
  select,
  statusLine,
  table,
} from "../dom.js";

export const title = "API keys";

export async function render(root, ctx) {
  const listArea = h("div", {}, statusLine("Loading keys…"));
  replace(
    root,
    screenTitle(title),
    createForm(ctx, listArea),
    h(
      "section",
      { "aria-labelledby": "keys-list-title" },
      h("h3", { id: "keys-list-title" }, "Keys of this tenant"),
      listArea,
    ),
  );
  await showKeys(listArea, ctx);
}

async function showKeys(area, ctx) {
  let keys;
  try {
    keys = (await call("GET", "/keys", { signal: ctx.signal })).data;
  } catch (err) {
    if (err.name !== "AbortError") replace(area, errorBox(err));
    return;
  }
  if (!keys.length) {
    replace(area, h("p", { class: "empty" }, "No key yet."));
    return;
  }
  const columns = [
    ["Key id", (k) => h("span", { class: "mono" }, k.key_id)],
    ["Name", (k) => k.name || "—"],
    ["Scopes", (k) => k.scopes.join(", ")],
    ["Knowledge bases", (k) => (k.kbs === null ? "all" : k.kbs.join(", "))],
    ["Created", (k) => fmtTime(k.created_at)],
    [
      "State",
      (k) =>
        k.revoked_at
          ? h("span", { class: "badge cancelled" }, `revoked ${fmtTime(k.revoked_at)}`)
          : h("span", { class: "badge succeeded" }, "active"),
    ],
    [
      "Actions",
      (k) =>
        k.revoked_at
          ? ""
          : h(
              "button",
              { type: "button", class: "danger small", onclick: () => revoke(k, area, ctx) },
              "Revoke",
              h("span", { class: "sr-only" }, ` ${k.key_id}`),
            ),
    ],
  ];
  replace(area, table("API keys", columns, keys));
}

async function revoke(key, area, ctx) {
  const mine = ctx.keyId === key.key_id;
  const ok = await confirmAction(
    `Revoke ${key.key_id}?`,
    `Requests with this key${mine ? " (the one this page is using)" : ""} are refused ` +
      "from the next one on, and its access tokens end.",
    "Revoke key",
  );
  if (!ok) return;
  try {
    await call("POST", `/keys/${encodeURIComponent(key.key_id)}/revoke`);
    ctx.notify(`Revoked ${key.key_id}.`);
  } catch (err) {
    ctx.fail(err);
  }
  await showKeys(area, ctx);
}

function createForm(ctx, listArea) {
  const name = h("input", { id: "key-name", name: "name", maxlength: 200, autocomplete: "off" });
  const scope = select(
    "key-scope",
    [
      ["read", "read: search, answer, list"],
      ["write", "write: also upload and delete documents"],
      ["admin", "admin: also KBs and keys"],
    ],
    "read",
  );
  const kbs = h("input", { id: "key-kbs", name: "kbs", autocomplete: "off", spellcheck: "false" });
  const result = h("div", { class: "form-result" });
  const button = h("button", { type: "submit" }, "Create key");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "key-create-title" },
    h("h3", { id: "key-create-title" }, "Create a key"),
    h(
      "div",
      { class: "grid" },
      field("Name", name, "a label to recognise the key by"),
      field("Scope", scope),
      field("Knowledge bases", kbs, "comma-separated; empty for every KB of the tenant"),
    ),
    h("div", { class: "actions" }, button),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { scopes: [scope.value], name: name.value.trim() };
    const names = kbs.value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (names.length) body.kbs = names;
    button.disabled = true;
    try {
      const created = await call("POST", "/keys", { json: body });
      form.reset(); // before the secret appears: it sits in this form and would be reset too
      replace(result, secret(created));
      await showKeys(listArea, ctx);
    } catch (err) {
      replace(result, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function secret(created) {
  const value = h("input", {
    id: "new-key",
    readonly: true,
    value: created.key,
    class: "mono",
    spellcheck: "false",
  });
  const copy = h("button", { type: "button", class: "small" }, "Copy");
  copy.addEventListener("click", async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(created.key);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Selected: copy it with Ctrl+C";
    }
  });
  return h(
    "div",
    { class: "secret", role: "status" },
    h(
      "p",
      {},
      h("strong", {}, `Key ${created.key_id} created.`),
      " Store it now: it is shown this once and cannot be shown again.",
    ),
    h(
      "div",
      { class: "inline" },
      h("label", { for: "new-key", class: "sr-only" }, "New API key"),
      value,
      copy,
    ),
  );
}
