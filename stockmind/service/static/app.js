// The search page: plain JavaScript, no build step. It keeps the API key the user types in
// localStorage and sends it as a Bearer token.
//
// A query is a text or an uploaded image; "more like this" and "less like this" on a result add its
// key to the query's examples or counter-examples and run it again through POST /v1/search. An
// upload has no key, so it cannot be combined with them: refining an upload query starts a new one
// from the chosen example alone. Results are media, or products (group=sku) with their best media;
// "load more" asks for the next page of the same query. A video result starts at its best moment
// (a media fragment, #t=seconds).
"use strict";

const KEY_STORAGE = "stockmind.apiKey";
const $ = (id) => document.getElementById(id);

// The query on show, the options it ran with and its next page's cursor (a cursor is only good for
// the query that gave it). `serial` numbers the requests, so that a late answer to an older one
// cannot overwrite a newer one.
let current = null;
let serial = 0;

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// ----- talking to the API -----------------------------------------------------------------------

async function call(url, options = {}) {
  if (!apiKey()) throw new Error("enter your API key first");
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${apiKey()}` };
  const response = await fetch(url, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    // The service's own errors say when to retry; a proxy's bare 429 may only have the header.
    const retry = response.headers.get("Retry-After");
    const bare = retry ? `${response.statusText}; retry in ${retry} s` : response.statusText;
    throw new Error(`${response.status}: ${(body.error && body.error.message) || bare}`);
  }
  return body;
}

function readOptions() {
  const minScore = $("min-score");
  if (!minScore.checkValidity()) throw new Error("min score: a number from -1 to 1, or empty for none");
  return {
    k: Number($("k").value) || 12,
    group: document.querySelector("#show input:checked").value || null,
    mediaType: $("media-type").value || null,
    minScore: minScore.value === "" ? null : Number(minScore.value),
  };
}

function request(query, options, cursor) {
  return query.upload ? uploadRequest(query.upload, options, cursor) : jsonRequest(query, options, cursor);
}

function jsonRequest(query, options, cursor) {
  const body = { k: options.k, positive: query.positive, negative: query.negative };
  if (query.text) body.text = query.text;
  if (options.group) body.group = options.group;
  if (options.minScore !== null) body.min_score = options.minScore;
  if (options.mediaType) body.filters = { media_type: options.mediaType };
  if (cursor) body.cursor = cursor;
  return call("/v1/search", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function uploadRequest(file, options, cursor) {
  const params = new URLSearchParams({ k: options.k });
  if (options.group) params.set("group", options.group);
  if (options.minScore !== null) params.set("min_score", options.minScore);
  if (options.mediaType) params.set("media_type", options.mediaType);
  if (cursor) params.set("cursor", cursor);
  const form = new FormData();
  form.append("file", file);
  return call(`/v1/search/image?${params}`, { method: "POST", body: form });
}

// ----- the query and its refinements --------------------------------------------------------------

function newQuery(parts) {
  return { text: null, upload: null, positive: [], negative: [], ...parts };
}

function canSearch(query) {
  return Boolean(query.text || query.upload || query.positive.length);
}

function describe(query) {
  const parts = [query.text ? `“${query.text}”` : null, query.upload ? `image ${query.upload.name}` : null];
  if (query.positive.length) parts.push(`${query.positive.length} like`);
  if (query.negative.length) parts.push(`${query.negative.length} unlike`);
  return parts.filter(Boolean).join(", ");
}

function refine(key, like) {
  const query = current.query;
  if (query.upload) return search(newQuery({ positive: [key] }));
  const list = like ? "positive" : "negative";
  return search({ ...query, [list]: [...query[list], key] });
}

function withoutPart(query, role, key) {
  if (role === "text" || role === "image") return { ...query, [role === "text" ? "text" : "upload"]: null };
  return { ...query, [role]: query[role].filter((k) => k !== key) };
}

function removePart(role, key) {
  const query = withoutPart(current.query, role, key);
  if (canSearch(query)) return search(query);
  current = null;
  serial += 1;
  renderQuery(null);
  $("results").replaceChildren();
  $("load-more").hidden = true;
  setStatus("nothing left to search with: type a text, drop an image or pick an example");
}

// ----- running it ------------------------------------------------------------------------------------

function search(query) {
  let options;
  try {
    options = readOptions();
  } catch (error) {
    setStatus(error.message, true);
    return Promise.resolve();
  }
  current = { query, options, cursor: null, shown: 0 };
  renderQuery(query);
  return fetchPage(false);
}

async function fetchPage(append) {
  const id = ++serial;
  const { query, options } = current;
  const label = describe(query);
  $("load-more").hidden = true;
  setStatus(`${label}…`);
  try {
    const started = performance.now();
    const body = await request(query, options, append ? current.cursor : null);
    if (id !== serial) return;
    $("who").textContent = `client ${body.client_id}`;
    const items = body.products ? body.products.map(productCard) : body.results.map(card);
    current.cursor = body.next_cursor;
    current.shown = (append ? current.shown : 0) + items.length;
    if (append) $("results").append(...items);
    else $("results").replaceChildren(...(items.length ? items : [emptyNote()]));
    $("load-more").hidden = !body.next_cursor;
    const noun = body.products ? "products" : "results";
    const ms = Math.round(performance.now() - started);
    setStatus(`${current.shown} ${noun} for ${label} (${ms} ms)`);
  } catch (error) {
    if (id !== serial) return;
    if (append) $("load-more").hidden = !current.cursor;
    else $("results").replaceChildren();
    setStatus(error.message, true);
  }
}

// ----- drawing -----------------------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, label, onClick) {
  const node = element("button", null, text);
  node.type = "button";
  node.setAttribute("aria-label", label);
  node.addEventListener("click", onClick);
  return node;
}

function shortName(key) {
  const parts = key.split("/");
  return `${parts[3]}/${parts[parts.length - 1]}`;
}

function thumbnail(result) {
  if (result.media_type === "video") {
    const video = document.createElement("video");
    const moment = result.timestamp_s || 0;
    video.src = `${result.url}#t=${moment.toFixed(1)}`;
    video.preload = "metadata";
    video.muted = true;
    video.controls = true;
    return video;
  }
  const img = document.createElement("img");
  img.src = result.url;
  img.loading = "lazy";
  img.alt = result.key;
  return img;
}

function card(result) {
  const item = element("figure", "result");
  item.dataset.key = result.key;
  item.dataset.sku = result.sku;
  item.dataset.mediaType = result.media_type;
  item.dataset.score = result.score;
  item.append(thumbnail(result));

  const meta = element("figcaption", "meta");
  meta.append(element("div", "score", `score ${result.score.toFixed(3)}`), element("div", "sku", `SKU ${result.sku}`));
  if (result.media_type === "video") {
    meta.append(element("div", "moment", `at ${(result.timestamp_s || 0).toFixed(1)} s`));
  }
  const name = shortName(result.key);
  const like = button("more like this", `more like ${name}`, () => refine(result.key, true));
  const unlike = button("less like this", `less like ${name}`, () => refine(result.key, false));
  if (current.query.upload) {
    like.title = "search like this instead of the uploaded image";
    unlike.disabled = true;
    unlike.title = "an uploaded image cannot be combined with counter-examples: use more like this first";
  }
  const actions = element("div", "actions");
  actions.append(like, unlike);
  meta.append(actions);
  item.append(meta);
  return item;
}

function productCard(product) {
  const item = element("section", "product");
  item.dataset.sku = product.sku;
  item.dataset.score = product.score;
  item.setAttribute("aria-label", `product ${product.sku}`);
  const title = element("h2", null, `SKU ${product.sku}`);
  title.append(" ", element("span", "score", `score ${product.score.toFixed(3)}`));
  const media = element("div", "media");
  media.append(...product.media.map(card));
  item.append(title, media);
  return item;
}

function emptyNote() {
  return element("p", "empty", "No results. Lower the min score, or change the query.");
}

function renderQuery(query) {
  const chips = [];
  if (query) {
    if (query.text) chips.push(chip("text", null, `text “${query.text}”`));
    if (query.upload) chips.push(chip("image", null, `image ${query.upload.name}`));
    query.positive.forEach((key) => chips.push(chip("positive", key, `like ${shortName(key)}`)));
    query.negative.forEach((key) => chips.push(chip("negative", key, `not like ${shortName(key)}`)));
  }
  $("query-parts").replaceChildren(...chips);
}

function chip(role, key, text) {
  const item = element("li", `part ${role}`, text);
  item.dataset.role = role;
  if (key) item.dataset.key = key;
  item.append(button("×", `remove ${text}`, () => removePart(role, key)));
  return item;
}

// ----- wiring ------------------------------------------------------------------------------------------

function wireDropZone() {
  const zone = $("drop-zone");
  const stop = (event) => { event.preventDefault(); event.stopPropagation(); };
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    stop(event);
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, (event) => {
    stop(event);
    zone.classList.remove("over");
  }));
  zone.addEventListener("drop", (event) => {
    const file = event.dataTransfer.files[0];
    if (file) search(newQuery({ upload: file }));
  });
  $("image-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) search(newQuery({ upload: file }));
    event.target.value = "";
  });
}

function init() {
  $("api-key").value = apiKey();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    setStatus("API key saved");
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("query").value.trim();
    if (text) search(newQuery({ text }));
  });
  // A changed option runs the query on show again, from its first page, refinements and all.
  $("options").addEventListener("submit", (event) => event.preventDefault());
  $("options").addEventListener("change", () => { if (current) search(current.query); });
  $("load-more").addEventListener("click", () => fetchPage(true));
  wireDropZone();
}

init();
