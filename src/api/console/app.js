// The console: operates channelhub through its public API only (REST, the
// multiplexed socket /api/v1/ws, /metrics). No library: event data is only
// ever shown as text (textContent), never interpreted as HTML.
"use strict";

const API = "/api/v1";
const NIL_ID = "00000000000000000000000000";
const $ = (id) => document.getElementById(id);

/** An element with properties and children (strings become text nodes). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const state = {
  token: sessionStorage.getItem("channelhub.token") || "",
  identity: null,
  channels: [],
  cursor: null,
  load: 0,
  open: null,
};

// --- HTTP -----------------------------------------------------------------

class Problem extends Error {
  constructor(status, title, detail) {
    super(status ? `${title} (${status}): ${detail}` : `${title}: ${detail}`);
    this.status = status;
  }
}

/** A request body already in JSON text. */
class RawJson {
  constructor(text) { this.text = text; }
}

async function call(method, path, body) {
  const headers = { accept: "application/json" };
  if (state.token) headers.authorization = "Bearer " + state.token;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    const text = body === undefined ? undefined : body instanceof RawJson ? body.text : JSON.stringify(body);
    response = await fetch(API + path, { method, headers, body: text });
  } catch (error) {
    throw new Problem(0, "The server cannot be reached", error.message || String(error));
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) throw new Problem(response.status, json?.title || response.statusText, json?.detail || text.slice(0, 300));
  return json;
}

function notify(text, isError = false) {
  const line = el("p", { class: isError ? "error" : "" }, text);
  $("notice").replaceChildren(line);
  if (!isError) setTimeout(() => line.remove(), 6000);
}

/** Runs an action, showing its error in the page. */
async function attempt(action, output) {
  try {
    return await action();
  } catch (error) {
    if (output) { output.textContent = error.message; output.className = "error"; }
    else notify(error.message, true);
    return undefined;
  }
}

const seg = (text) => encodeURIComponent(text);
const list = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

// --- Signing in -----------------------------------------------------------

async function signIn(token) {
  state.token = token;
  if (token) sessionStorage.setItem("channelhub.token", token);
  else sessionStorage.removeItem("channelhub.token");
  state.identity = null;
  const who = await attempt(() => call("GET", "/whoami"));
  if (who) state.identity = who;
  else if (token) {
    // A wrong token: say so, and go on as anonymous.
    state.token = "";
    sessionStorage.removeItem("channelhub.token");
  }
  // The list first: the identity shows once what it may see is loaded.
  await loadChannels(true);
  $("identity").textContent = state.identity
    ? `${state.identity.kind}${state.identity.channel_id ? " · " + state.identity.channel_id : ""}${state.identity.name ? " · " + state.identity.name : ""}`
    : "anonymous";
  $("sign-out").hidden = !state.token;
  if (state.identity) notify(`Signed in: ${$("identity").textContent}`);
  live.restart();
}

// --- Channels -------------------------------------------------------------

async function loadChannels(fresh) {
  // A newer load (another sign-in, a reload) wins over one still in flight.
  const load = fresh ? ++state.load : state.load;
  const query = new URLSearchParams({ limit: "100" });
  if (!fresh && state.cursor) query.set("cursor", state.cursor);
  const page = await attempt(() => call("GET", "/channels?" + query));
  if (!page || load !== state.load) return;
  if (fresh) state.channels = [];
  state.channels.push(...page.channels);
  state.cursor = page.has_more ? page.cursor : null;
  $("more-channels").hidden = !state.cursor;
  showChannels();
}

function showChannels() {
  const needle = $("channel-search").value.trim().toLowerCase();
  const rows = state.channels
    .filter((c) => !needle || [c.id, c.name, ...(c.tags || [])].some((t) => t.toLowerCase().includes(needle)))
    .map((c) => el("tr", { dataset: { channel: c.id }, class: state.open === c.id ? "open" : "" },
      el("td", {}, el("button", { type: "button", class: "quiet", onclick: () => openChannel(c.id) }, c.name || c.id),
        el("div", { class: "meta" }, `${c.id} · ${c.is_public ? "public" : "private"}${c.tags.length ? " · " + c.tags.join(", ") : ""}`)),
      el("td", {}, c.event_count), el("td", {}, c.subscribers), el("td", {}, when(c.last_event_at))));
  $("channel-list").replaceChildren(...rows);
  $("channel-ids").replaceChildren(...state.channels.map((c) => el("option", { value: c.id })));
}

/** The fields of a channel form, filled from `channel` (or empty for a new one). */
function channelFields(form, channel) {
  const id = form.id;
  const retention = channel?.retention || {};
  const types = channel?.config?.types || {};
  form.replaceChildren(
    ...(channel ? [] : [el("label", { for: id + "-id" }, "Id (3 to 64 of a-z, 0-9 and -, starting and ending with a letter or digit)"), el("input", { id: id + "-id", required: true })]),
    el("label", { for: id + "-name" }, "Name"), el("input", { id: id + "-name", value: channel?.name ?? "" }),
    el("label", { for: id + "-description" }, "Description"), el("input", { id: id + "-description", value: channel?.description ?? "" }),
    el("label", { for: id + "-tags" }, "Tags (comma separated)"), el("input", { id: id + "-tags", value: (channel?.tags || []).join(", ") }),
    el("label", {}, el("input", { type: "checkbox", id: id + "-private", checked: channel ? !channel.is_public : false }), " private"),
    el("label", { for: id + "-max-events" }, "Keep at most this many events (empty: no bound)"),
    el("input", { id: id + "-max-events", type: "number", min: "1", value: retention.max_events ?? "" }),
    el("label", { for: id + "-max-age" }, "Keep events this many seconds (empty: no bound)"),
    el("input", { id: id + "-max-age", type: "number", min: "1", value: retention.max_age_seconds ?? "" }),
    el("label", {}, el("input", { type: "checkbox", id: id + "-strict", checked: !!channel?.config?.strict_types }), " strict types"),
    el("label", { for: id + "-types" }, "Types: each event type → the JSON Schema of its data"),
    el("textarea", { id: id + "-types", rows: "5" }, JSON.stringify(types, null, 2)),
    el("div", { class: "row" }, el("button", { type: "submit", id: id + "-save" }, channel ? "Save changes" : "Create channel")),
    el("output", { id: id + "-result" }));
}

/** The request body a channel form says, or a readable error. */
function channelBody(form, creating) {
  const id = form.id;
  const value = (name) => $(id + "-" + name).value.trim();
  let types;
  try { types = JSON.parse(value("types") || "{}"); } catch (error) { throw new Error("Types are not JSON: " + error.message); }
  if (typeof types !== "object" || types === null || Array.isArray(types)) throw new Error("Types must be a JSON object of type → schema");
  if ($(id + "-strict").checked && Object.keys(types).length === 0) throw new Error("Strict types need at least one type");
  const number = (name) => (value(name) === "" ? null : Number(value(name)));
  const body = {
    name: value("name") || undefined,
    description: value("description"),
    tags: list(value("tags")),
    is_public: !$(id + "-private").checked,
    retention: { max_events: number("max-events"), max_age_seconds: number("max-age") },
    config: { strict_types: $(id + "-strict").checked, types },
  };
  if (creating) {
    body.id = value("id");
    return body;
  }
  // An edit sends only what changed (someone else may have changed the rest).
  const before = state.openChannel;
  if (!body.name || body.name === before.name) delete body.name;
  if (body.description === before.description) delete body.description;
  if (JSON.stringify(body.tags) === JSON.stringify(before.tags)) delete body.tags;
  if (body.is_public === before.is_public) delete body.is_public;
  const retention = before.retention || {};
  if (body.retention.max_events === (retention.max_events ?? null) && body.retention.max_age_seconds === (retention.max_age_seconds ?? null)) delete body.retention;
  const config = before.config || {};
  if (body.config.strict_types === !!config.strict_types && JSON.stringify(body.config.types) === JSON.stringify(config.types || {})) delete body.config;
  else body.config = { ...config, ...body.config }; // keeps keys this form does not show
  return body;
}

async function saveChannel(submit, creating) {
  submit.preventDefault();
  const form = submit.target;
  const output = $(form.id + "-result");
  output.textContent = ""; output.className = "";
  await attempt(async () => {
    const body = channelBody(form, creating);
    const channel = creating
      ? await call("POST", "/channels", body)
      : await call("PATCH", `/channels/${seg(state.open)}`, body);
    await loadChannels(true);
    if (!creating) state.openChannel = channel;
    if (creating) {
      channelFields(form); // a fresh form for the next one
      $("new-channel-box").open = false;
      await openChannel(channel.id);
      notify(`Created ${channel.id}`);
    }
    $(form.id + "-result").textContent = creating ? `Created ${channel.id}` : "Saved";
  }, output);
}

async function openChannel(id) {
  const channel = await attempt(() => call("GET", `/channels/${seg(id)}`));
  if (!channel) return;
  state.open = id;
  state.openChannel = channel;
  showChannels();
  $("channel-detail").hidden = false;
  $("detail-title").textContent = `${channel.name} (${channel.id})`;
  channelFields($("edit-channel"), channel);
  $("delete-confirm").hidden = true;
  $("secret-box").hidden = true;
  $("deliveries-box").hidden = true;
  await Promise.all([loadTokens(), loadWebhooks()]);
}

async function deleteChannel() {
  if ($("delete-typed").value.trim() !== state.open) return notify("Type the channel's id exactly to delete it", true);
  await attempt(async () => {
    await call("DELETE", `/channels/${seg(state.open)}`);
    notify(`Deleted ${state.open}`);
    state.open = null;
    $("channel-detail").hidden = true;
    await loadChannels(true);
  });
}

function showSecret(label, secret) {
  $("secret-label").textContent = label;
  $("secret-value").textContent = secret;
  $("secret-box").hidden = false;
}

async function loadTokens() {
  const tokens = await attempt(() => call("GET", `/channels/${seg(state.open)}/tokens`));
  if (!tokens) { $("token-list").replaceChildren(el("tr", {}, el("td", {}, "Tokens are listed for the admin token only."))); return; }
  $("token-list").replaceChildren(...tokens.map((t) => el("tr", { dataset: { token: t.id } },
    el("td", {}, `${t.kind} · ${t.name ?? "(no name)"}`), el("td", {}, t.id), el("td", {}, `created ${when(t.created_at)}${t.expires_at ? ", expires " + when(t.expires_at) : ""}`),
    el("td", {}, el("button", { type: "button", class: "quiet", dataset: { revoke: t.id }, onclick: () => revokeToken(t.id) }, "Revoke")))));
}

async function mintToken(submit) {
  submit.preventDefault();
  await attempt(async () => {
    const body = { kind: $("token-kind").value };
    if ($("token-name").value.trim()) body.name = $("token-name").value.trim();
    const created = await call("POST", `/channels/${seg(state.open)}/tokens`, body);
    showSecret(`New ${created.kind} token (shown once):`, created.token);
    await loadTokens();
  });
}

async function revokeToken(id) {
  await attempt(async () => {
    await call("DELETE", `/channels/${seg(state.open)}/tokens/${seg(id)}`);
    notify(`Revoked ${id}`);
    await loadTokens();
  });
}

async function loadWebhooks() {
  const hooks = await attempt(() => call("GET", `/channels/${seg(state.open)}/webhooks`));
  if (!hooks) return;
  $("webhook-list").replaceChildren(...hooks.map((h) => {
    const failing = h.state === "active" && h.failing_since;
    const label = failing ? "failing" : h.state;
    return el("tr", { dataset: { webhook: h.id } },
      el("td", {}, h.url, el("div", { class: "meta" }, h.event_types?.length ? "types: " + h.event_types.join(", ") : "every type")),
      el("td", { class: "state-" + label }, label, h.last_error ? el("div", { class: "meta" }, "last error: " + h.last_error) : null),
      el("td", {}, h.last_success_at ? "last success " + when(h.last_success_at) : "no success yet"),
      el("td", {}, el("button", { type: "button", class: "quiet", dataset: { deliveries: h.id }, onclick: () => loadDeliveries(h) }, "Deliveries"),
        el("button", { type: "button", class: "quiet", dataset: { deleteWebhook: h.id }, onclick: () => deleteWebhook(h.id) }, "Delete")));
  }));
}

async function addWebhook(submit) {
  submit.preventDefault();
  await attempt(async () => {
    const body = { url: $("webhook-url").value.trim() };
    if (list($("webhook-types").value).length) body.event_types = list($("webhook-types").value);
    const created = await call("POST", `/channels/${seg(state.open)}/webhooks`, body);
    showSecret("Webhook signing secret (shown once):", created.secret);
    await loadWebhooks();
  });
}

async function loadDeliveries(hook) {
  const attempts = await attempt(() => call("GET", `/channels/${seg(state.open)}/webhooks/${seg(hook.id)}/deliveries`));
  if (!attempts) return;
  $("deliveries-title").textContent = `Deliveries to ${hook.url}`;
  $("deliveries").replaceChildren(...(attempts.length ? attempts.map((a) => el("tr", {},
    el("td", {}, a.event_id), el("td", {}, a.attempt), el("td", {}, when(a.at)), el("td", {}, a.outcome),
    el("td", {}, a.status ?? "—"), el("td", {}, a.error ?? ""))) : [el("tr", {}, el("td", { colspan: "6" }, "No attempt yet"))]));
  $("deliveries-box").hidden = false;
  await loadWebhooks(); // their state, as of these attempts
  $("deliveries-box").scrollIntoView({ block: "nearest" });
}

async function deleteWebhook(id) {
  await attempt(async () => {
    await call("DELETE", `/channels/${seg(state.open)}/webhooks/${seg(id)}`);
    notify("Webhook deleted");
    $("deliveries-box").hidden = true;
    await loadWebhooks();
  });
}

// --- Live: several channels on one multiplexed socket ----------------------

/** Endings of one channel that stop following it, in words. */
const ENDINGS = { 4001: "token revoked", 4002: "channel made private", 4003: "token expired", 4004: "channel deleted" };
/** Refusals a retry cannot cure. */
const FINAL = new Set([400, 401, 403, 404]);

const live = {
  follows: new Map(), // channel → {types, last, subscribed, generation}
  socket: null,
  ready: false,
  paused: false,
  retries: 0,
  timer: null,
  bound: 100,
  generation: 0,
  commands: new Map(), // ref → {kind, channel, generation}

  follow(channel, types) {
    if (this.follows.has(channel)) return notify(`Already following ${channel}`, true);
    if (this.follows.size >= this.bound) return notify(`The server carries at most ${this.bound} channels on one socket`, true);
    this.follows.set(channel, { types, last: null, subscribed: false, generation: ++this.generation });
    this.showFollows();
    if (this.ready) this.subscribe(channel);
    else this.connect();
  },
  unfollow(channel) {
    const follow = this.follows.get(channel);
    this.follows.delete(channel);
    this.showFollows();
    if (follow?.subscribed && this.ready) this.command("unsubscribe", channel, follow.generation, { channel });
  },
  /** Sends a command; its answer is matched by ref to the follow it was for. */
  command(kind, channel, generation, body) {
    const ref = "r" + Math.random().toString(36).slice(2);
    this.commands.set(ref, { kind, channel, generation });
    this.socket.send(JSON.stringify({ [kind]: { ref, ...body } }));
  },
  subscribe(channel) {
    const follow = this.follows.get(channel);
    if (!follow || !this.ready || follow.subscribed) return;
    const body = { channel };
    if (follow.types.length) body.types = follow.types;
    if (follow.last) body.after = follow.last;
    // The credential goes in the frame, not in the socket's URL (URLs end up in logs).
    if (state.token) body.token = state.token;
    follow.subscribed = true;
    this.command("subscribe", channel, follow.generation, body);
  },
  /** Subscribes again after `ms`, if the follow is still the same one. */
  later(channel, generation, ms) {
    setTimeout(() => {
      const follow = this.follows.get(channel);
      if (follow?.generation === generation) this.subscribe(channel);
    }, ms);
  },
  connect() {
    clearTimeout(this.timer);
    if (this.paused || this.follows.size === 0 || this.socket) return;
    const url = new URL(API + "/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    this.socket = socket;
    this.ready = false;
    this.setState("connecting");
    socket.onmessage = (message) => this.socket === socket && this.onFrame(JSON.parse(message.data));
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      this.commands.clear();
      for (const follow of this.follows.values()) follow.subscribed = false;
      if (this.paused) return this.setState("paused");
      // Reconnect with backoff; each channel resumes after its last event.
      const delay = Math.min(10000, 250 * 2 ** this.retries++) * (0.5 + Math.random() / 2);
      this.setState(`disconnected (${close.code}${close.reason ? " " + close.reason : ""}); reconnecting`);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  },
  onFrame(frame) {
    if (typeof frame.id === "string") return this.onEvent(frame);
    const [kind] = Object.keys(frame);
    const body = frame[kind] || {};
    if (kind === "hello") {
      this.ready = true;
      this.bound = body.max_subscriptions || this.bound;
      this.setState("live");
      // The backoff starts again only once the socket delivers (see onEvent).
      for (const name of this.follows.keys()) this.subscribe(name);
      return;
    }
    // The follow a frame is about: by the ref it answers, else by channel
    // (a frame for an earlier follow of the same channel is ignored).
    const command = body.ref ? this.commands.get(body.ref) : null;
    if (body.ref) this.commands.delete(body.ref);
    const channel = command?.channel ?? body.channel;
    const follow = this.follows.get(channel);
    const current = follow && (!command || command.generation === follow.generation);
    if (kind === "subscribed" && current) {
      follow.subscribed = true;
      if (!follow.last) follow.last = body.position;
    } else if (kind === "caught_up" && current && body.position && (!follow.last || body.position > follow.last)) {
      follow.last = body.position; // a filtered channel's resume point moves on
    } else if (kind === "gap" && current) {
      this.notice("gap", `${channel}: events after ${body.after} up to ${body.removed_through} were removed before they were read`);
    } else if (kind === "unsubscribed" && current && command?.kind !== "unsubscribe") {
      follow.subscribed = false;
      if (ENDINGS[body.code]) {
        this.notice("closed", `${channel}: ${ENDINGS[body.code]} — no longer followed`);
        this.follows.delete(channel);
        this.showFollows();
      } else if (body.code === 4000) {
        this.notice("closed", `${channel}: fell behind (slow consumer); resuming after ${follow.last}`);
        this.later(channel, follow.generation, 500);
      } else {
        this.later(channel, follow.generation, 2000);
      }
    } else if (kind === "error") {
      this.onError(command, channel, follow, current, body);
    }
  },
  onError(command, channel, follow, current, body) {
    const words = `${channel ?? "socket"}: ${body.title} (${body.status}): ${body.detail}`;
    if (command?.kind === "unsubscribe") {
      // Refused for the rate: sent again, or the server keeps it.
      if (body.status === 429 && this.ready) {
        setTimeout(() => this.ready && this.command("unsubscribe", channel, command.generation, { channel }), 1000 * (body.retry_after || 1));
      }
      return;
    }
    if (!current) return this.notice("closed", words);
    follow.subscribed = false;
    if (body.status === 409) {
      // Already on the socket (an earlier follow's subscription): replace it.
      this.command("unsubscribe", channel, -1, { channel });
      this.later(channel, follow.generation, 500);
    } else if (body.status === 429 && body.retry_after) {
      this.later(channel, follow.generation, 1000 * body.retry_after);
    } else if (FINAL.has(body.status) || body.status === 429) {
      this.notice("closed", words + " — no longer followed");
      this.follows.delete(channel);
      this.showFollows();
    } else {
      this.later(channel, follow.generation, 2000); // a server error: retried
    }
  },
  onEvent(event) {
    const follow = this.follows.get(event.channel_id);
    if (!follow || (follow.last && event.id <= follow.last)) return;
    follow.last = event.id;
    this.retries = 0;
    const text = JSON.stringify(event.data);
    const item = el("li", { tabindex: "0", dataset: { id: event.id, channel: event.channel_id } },
      el("div", { class: "meta" }, `${event.channel_id} · ${event.type ?? "(no type)"} · ${when(event.created_at)} · ${event.publisher_id}`),
      el("code", {}, text.length > 2000 ? text.slice(0, 2000) + " …" : text));
    const show = () => { $("inspect").textContent = JSON.stringify(event, null, 2); };
    item.addEventListener("click", show);
    item.addEventListener("keydown", (key) => key.key === "Enter" && show());
    this.append(item);
  },
  notice(kind, text) { this.append(el("li", { class: "notice " + kind }, text)); },
  append(item) {
    const stream = $("stream");
    stream.prepend(item);
    while (stream.children.length > 500) stream.lastChild.remove();
  },
  setState(text) { $("live-state").textContent = text; },
  showFollows() {
    $("followed").replaceChildren(...[...this.follows].map(([channel, follow]) => el("li", { dataset: { channel } },
      channel + (follow.types.length ? ` (${follow.types.join(", ")})` : ""),
      el("button", { type: "button", class: "quiet", "aria-label": "Stop following " + channel, onclick: () => this.unfollow(channel) }, "×"))));
    if (this.follows.size === 0 && this.socket) {
      const socket = this.socket;
      this.socket = null;
      this.ready = false;
      socket.close(1000, "nothing followed");
      this.setState("not connected");
    }
  },
  togglePause() {
    this.paused = !this.paused;
    $("pause").textContent = this.paused ? "Resume" : "Pause";
    if (this.paused) { this.socket?.close(1000, "paused"); this.setState("paused"); }
    else this.connect();
  },
  /** A new credential: the socket starts again, each channel after its last event. */
  restart() {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    socket?.close(1000, "credential changed");
    for (const follow of this.follows.values()) follow.subscribed = false;
    this.connect();
  },
};

async function publish(validateOnly) {
  const output = $("pub-result");
  output.textContent = ""; output.className = "";
  // Checked here, sent as typed (a round trip through JSON.parse would
  // change numbers past 2^53).
  const data = $("pub-data").value.trim();
  try { JSON.parse(data); } catch (error) {
    output.textContent = "Data is not JSON: " + error.message; output.className = "error"; return;
  }
  const size = new TextEncoder().encode(data).length;
  if (size > 65536) { output.textContent = `Data is ${size} bytes; an event holds at most 65 536`; output.className = "error"; return; }
  const type = $("pub-type").value.trim();
  const body = new RawJson(`{${type ? `"type":${JSON.stringify(type)},` : ""}"data":${data}}`);
  const channel = $("pub-channel").value.trim();
  await attempt(async () => {
    if (validateOnly) {
      await call("POST", `/channels/${seg(channel)}/events/validate`, body);
      output.textContent = "Valid: the server would store it";
    } else {
      const stored = await call("POST", `/channels/${seg(channel)}/events`, body);
      output.textContent = "Published " + stored.id;
    }
  }, output);
}

// --- Server at a glance -----------------------------------------------------

const SERIES = [
  { key: "channelhub_websocket_connections", label: "WebSocket connections" },
  { key: "channelhub_subscribers", label: "Subscribers" },
  { key: "channelhub_events_published_total", label: "Events/s", rate: true },
  { key: "channelhub_frames_delivered_total", label: "Deliveries/s", rate: true },
  { key: "channelhub_slow_consumer_disconnects_total", label: "Slow-consumer disconnects" },
  { key: "channelhub_webhook_backlog", label: "Webhook backlog" },
];
const history = new Map(SERIES.map((s) => [s.key, []]));
let previous = null;

/** Sums each series of a Prometheus text exposition over its labels. */
function parseMetrics(text) {
  const sums = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const name = line.split(/[{ ]/, 1)[0];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) sums.set(name, (sums.get(name) || 0) + value);
  }
  return sums;
}

function sparkline(points) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 150 40");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  const max = Math.max(1, ...points);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.map((p, i) => `${150 - (points.length - 1 - i)},${38 - (p / max) * 36}`).join(" "));
  svg.append(line);
  return svg;
}

async function pollServer() {
  const now = Date.now();
  let text = null;
  let ready = "unreachable";
  try {
    const [metrics, readyz] = await Promise.all([fetch("/metrics"), fetch("/readyz")]);
    text = metrics.ok ? await metrics.text() : null;
    ready = readyz.ok ? "ready" : `not ready (${readyz.status})`;
  } catch { text = null; }
  const cards = [el("div", { class: "card", id: "card-database" }, el("div", { class: "label" }, "Database"), el("div", { class: "value" }, ready))];
  if (text) {
    const sums = parseMetrics(text);
    for (const series of SERIES) {
      let value = sums.get(series.key) || 0;
      if (series.rate) {
        const before = previous?.sums.get(series.key);
        value = before === undefined ? 0 : Math.max(0, (value - before) / ((now - previous.at) / 1000));
      }
      const points = history.get(series.key);
      points.push(value);
      if (points.length > 150) points.shift();
      cards.push(el("div", { class: "card", dataset: { series: series.key } },
        el("div", { class: "label" }, series.label), el("div", { class: "value" }, Math.round(value * 10) / 10), sparkline(points)));
    }
    previous = { at: now, sums };
  }
  $("cards").replaceChildren(...cards);
  const status = state.identity?.kind === "admin" ? await call("GET", "/status").catch(() => null) : null;
  if (status) {
    $("nodes").replaceChildren(...status.nodes.map((n) => el("tr", { dataset: { node: n.node_id } },
      el("td", {}, n.node_id + (n.this_node ? " (this node)" : "")), el("td", {}, n.version), el("td", {}, when(n.reported_at)),
      el("td", {}, n.live_channels), el("td", {}, n.subscribers), el("td", { class: "state-" + n.state }, n.state))));
  } else {
    $("nodes").replaceChildren(el("tr", {}, el("td", { colspan: "6" }, "The nodes are listed for the admin token.")));
  }
}

// --- Wiring -----------------------------------------------------------------

let serverTimer = null;
function showView(view) {
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-pressed", String(tab.dataset.view === view));
  for (const name of ["channels", "live", "server"]) $("view-" + name).hidden = name !== view;
  clearInterval(serverTimer);
  if (view === "server") { pollServer(); serverTimer = setInterval(pollServer, 2000); }
}

for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
$("sign-in").addEventListener("submit", (submit) => { submit.preventDefault(); signIn($("token").value.trim()); });
$("sign-out").addEventListener("click", () => { $("token").value = ""; signIn(""); });
$("channel-search").addEventListener("input", showChannels);
$("reload-channels").addEventListener("click", () => loadChannels(true));
$("more-channels").addEventListener("click", () => loadChannels(false));
$("new-channel").addEventListener("submit", (submit) => saveChannel(submit, true));
$("edit-channel").addEventListener("submit", (submit) => saveChannel(submit, false));
$("delete-channel").addEventListener("click", () => { $("delete-confirm").hidden = false; $("delete-typed").focus(); });
$("confirm-delete").addEventListener("click", deleteChannel);
$("token-form").addEventListener("submit", mintToken);
$("copy-secret").addEventListener("click", async () => {
  // The clipboard needs a secure context (https, or localhost); say so when it fails.
  const copied = await attempt(async () => {
    if (!navigator.clipboard) throw new Error("This page cannot use the clipboard here: select the secret and copy it");
    await navigator.clipboard.writeText($("secret-value").textContent);
    return true;
  });
  if (copied) notify("Copied");
});
$("webhook-form").addEventListener("submit", addWebhook);
$("follow-this").addEventListener("click", () => { showView("live"); live.follow(state.open, []); $("pub-channel").value = state.open; });
$("follow-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  live.follow($("follow-channel").value.trim(), list($("follow-types").value));
  $("follow-channel").value = "";
});
$("pause").addEventListener("click", () => live.togglePause());
$("clear-stream").addEventListener("click", () => $("stream").replaceChildren());
$("pub-check").addEventListener("click", () => publish(true));
$("publish-form").addEventListener("submit", (submit) => { submit.preventDefault(); publish(false); });

channelFields($("new-channel"));
$("token").value = state.token;
signIn(state.token);
