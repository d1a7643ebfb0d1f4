// The search page: plain JavaScript, no build step. It keeps the API key the user types in
// localStorage and sends it as a Bearer token; every result is a thumbnail with its score, and a
// video result starts at its best moment (a media fragment, #t=seconds).
"use strict";

const KEY_STORAGE = "stockmind.apiKey";
const $ = (id) => document.getElementById(id);

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function filterParams() {
  const params = new URLSearchParams({ k: $("k").value || "12" });
  if ($("media-type").value) params.set("media_type", $("media-type").value);
  return params;
}

async function call(url, options = {}) {
  if (!apiKey()) throw new Error("enter your API key first");
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${apiKey()}` };
  const response = await fetch(url, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body.error && body.error.message) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

async function run(label, request) {
  setStatus(`${label}…`);
  try {
    const started = performance.now();
    const body = await request();
    $("who").textContent = `client ${body.client_id}`;
    render(body.results);
    const ms = Math.round(performance.now() - started);
    setStatus(`${body.results.length} results for ${label} (${ms} ms)`);
  } catch (error) {
    render([]);
    setStatus(error.message, true);
  }
}

function searchText(text) {
  const params = filterParams();
  params.set("q", text);
  return run(`“${text}”`, () => call(`/v1/search?${params}`));
}

function searchImage(file) {
  const form = new FormData();
  form.append("file", file);
  return run(`image ${file.name}`, () =>
    call(`/v1/search/image?${filterParams()}`, { method: "POST", body: form }));
}

function searchLike(key) {
  return run("more like this", () =>
    call(`/v1/search/image?${filterParams()}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key }),
    }));
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
  const item = document.createElement("figure");
  item.className = "result";
  item.dataset.key = result.key;
  item.dataset.mediaType = result.media_type;
  item.append(thumbnail(result));

  const meta = document.createElement("figcaption");
  meta.className = "meta";
  const score = document.createElement("div");
  score.className = "score";
  score.textContent = `score ${result.score.toFixed(3)}`;
  const sku = document.createElement("div");
  sku.className = "sku";
  sku.textContent = `SKU ${result.sku}`;
  meta.append(score, sku);
  if (result.media_type === "video") {
    const moment = document.createElement("div");
    moment.className = "moment";
    moment.textContent = `at ${(result.timestamp_s || 0).toFixed(1)} s`;
    meta.append(moment);
  }
  const like = document.createElement("button");
  like.type = "button";
  like.textContent = "more like this";
  like.addEventListener("click", () => searchLike(result.key));
  meta.append(like);
  item.append(meta);
  return item;
}

function render(results) {
  $("results").replaceChildren(...results.map(card));
}

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
    if (file) searchImage(file);
  });
  $("image-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) searchImage(file);
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
    if (text) searchText(text);
  });
  wireDropZone();
}

init();
