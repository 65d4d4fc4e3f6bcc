// The console's shell: finds out whether the service wants a key, keeps the KB picker and the
// navigation in step with the URL (#/screen?kb=name), and renders one screen at a time.

import {
  ApiError,
  call,
  errorOf,
  forgetKey,
  rememberKey,
  request,
  storedKey,
  useKey,
} from "./api.js";
import { errorBox, h, replace, screenTitle } from "./dom.js";
import * as ask from "./views/ask.js";
import * as ingest from "./views/ingest.js";
import * as kbs from "./views/kbs.js";
import * as keys from "./views/keys.js";
import * as search from "./views/search.js";

const SCREENS = { kbs, ingest, search, ask, keys };
const main = document.getElementById("main");
const notice = document.getElementById("notice");
const picker = document.getElementById("kb-select");
const authArea = document.getElementById("auth");
const state = { mode: null, admin: false, kbs: [], current: null, noticeTimer: null };

/** The screen and KB named by the URL's fragment. */
function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const screen = SCREENS[path] && (path !== "keys" || state.admin) ? path : "kbs";
  const kb = new URLSearchParams(query).get("kb") ?? sessionStorage.getItem("rag.kb");
  return { screen, kb: state.kbs.some((k) => k.name === kb) ? kb : (state.kbs[0]?.name ?? null) };
}

const link = (screen, kb) => (kb ? `#/${screen}?kb=${encodeURIComponent(kb)}` : `#/${screen}`);

function go(screen, kb) {
  const target = link(screen, kb);
  if (location.hash === target) show();
  else location.hash = target;
}

function notify(text, isError = false) {
  clearTimeout(state.noticeTimer);
  replace(notice, isError ? errorBox(text) : h("p", {}, text));
  state.noticeTimer = setTimeout(() => notice.replaceChildren(), 8000);
}

async function refreshKbs(select) {
  state.kbs = (await call("GET", "/kbs")).data;
  const { screen, kb } = route();
  const chosen = select !== undefined && state.kbs.some((k) => k.name === select) ? select : kb;
  fillPicker(chosen);
  go(screen, chosen);
}

/** A fresher KB list from a screen: the picker follows, the screen stays. */
function syncKbs(list) {
  state.kbs = list;
  fillPicker(route().kb);
}

function fillPicker(selected) {
  replace(
    picker,
    state.kbs.map((kb) => h("option", { value: kb.name, selected: kb.name === selected }, kb.name)),
  );
  picker.closest(".kb-picker").hidden = state.kbs.length === 0;
}

function noKb() {
  return h(
    "p",
    { class: "empty" },
    "No knowledge base yet. ",
    h("a", { href: link("kbs") }, "Create one"),
    " first.",
  );
}

/** Render the screen the URL names; `focus` moves focus to its heading (navigation). */
async function show(focus = false) {
  state.current?.abort();
  const controller = new AbortController();
  state.current = controller;
  const { screen, kb } = route();
  // The address always names what is shown (a bare /ui/ becomes #/kbs?kb=...), without a
  // second history entry.
  if (location.hash !== link(screen, kb)) history.replaceState(null, "", link(screen, kb));
  if (kb) sessionStorage.setItem("rag.kb", kb);
  if (kb && picker.value !== kb) picker.value = kb;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.screen === screen) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
    a.href = link(a.dataset.screen, kb);
  }
  const view = SCREENS[screen];
  document.title = `${view.title} · rag-service console`;
  const ctx = {
    kb,
    kbs: state.kbs,
    admin: state.admin,
    keyId: keyId(),
    signal: controller.signal,
    link,
    go,
    noKb,
    refreshKbs,
    syncKbs,
    notify,
    fail: (err) => notify(err, true),
  };
  try {
    await view.render(main, ctx);
  } catch (err) {
    if (err.name !== "AbortError") replace(main, errorBox(err));
  }
  if (focus && !controller.signal.aborted) document.getElementById("screen-title")?.focus();
}

const keyId = () => (state.mode === "key" ? (storedKey()?.split("_")[1] ?? null) : null);

/** "local" when the service answers without a key (no-auth local mode), else "key". */
async function detectMode() {
  const response = await fetch("/v1/kbs", { credentials: "omit", cache: "no-store" });
  if (response.ok) return "local";
  if (response.status === 401) return "key";
  throw await errorOf(response);
}

async function isAdmin() {
  try {
    await request("GET", "/keys");
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return false;
    throw err;
  }
}

function showAuth() {
  if (state.mode === "local") {
    replace(
      authArea,
      h(
        "span",
        { class: "badge local", title: "rag serve --no-auth: loopback only" },
        "Local mode · no key needed",
      ),
    );
    return;
  }
  const id = keyId();
  replace(
    authArea,
    id ? h("span", { class: "badge" }, `Key ${id}`) : null,
    id
      ? h("button", { type: "button", class: "small secondary", onclick: signOut }, "Sign out")
      : null,
  );
}

function signOut() {
  forgetKey();
  signIn();
}

/** The sign-in screen: a key is checked against the API, then kept for this tab only. */
function signIn(reason) {
  state.current?.abort();
  state.kbs = [];
  fillPicker(null);
  setAdmin(false);
  showAuth();
  const input = h("input", {
    id: "api-key",
    type: "password",
    name: "key",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
  });
  const result = h("div", { class: "form-result" }, reason ? errorBox(reason) : null);
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "screen-title" },
    screenTitle("Sign in"),
    h(
      "p",
      {},
      "This service needs an API key (",
      h("code", {}, "rag keys create"),
      "). It is kept in this tab's session storage and sent as a Bearer header.",
    ),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    try {
      await request("GET", "/kbs", { key });
    } catch (err) {
      replace(result, errorBox(err));
      return;
    }
    rememberKey(key);
    await start();
  });
  replace(main, form);
  input.focus();
}

function setAdmin(admin) {
  state.admin = admin;
  document.querySelector('#nav a[data-screen="keys"]').parentElement.hidden = !admin;
}

async function start() {
  try {
    state.mode = await detectMode();
  } catch (err) {
    replace(main, errorBox(err));
    return;
  }
  useKey(state.mode === "key");
  if (state.mode === "key" && !storedKey()) {
    signIn();
    return;
  }
  try {
    setAdmin(await isAdmin());
    state.kbs = (await call("GET", "/kbs")).data;
  } catch (err) {
    if (err.status !== 401) replace(main, errorBox(err));
    return; // a refused key: the rag:unauthorized handler shows the sign-in screen
  }
  showAuth();
  fillPicker(route().kb);
  await show();
}

document.addEventListener("rag:unauthorized", (event) => {
  forgetKey();
  signIn(event.detail);
});
window.addEventListener("hashchange", () => {
  if (state.mode === "local" || storedKey()) show(true);
});
picker.addEventListener("change", () => go(route().screen, picker.value));
// Choosing the screen already shown loads it again (fresh lists), as a reload would.
document.getElementById("nav").addEventListener("click", (event) => {
  const target = event.target.closest("a");
  if (target && target.getAttribute("href") === location.hash) {
    event.preventDefault();
    show(true);
  }
});
start();
