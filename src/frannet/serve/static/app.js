"use strict";
// The frannet page: choose a photo and the options, submit a job, follow it, compare and download.

const $ = (id) => document.getElementById(id);
const POLL_MS = 300;
let config = null;   // limits, tasks and restorators from /api/config
let file = null;     // the chosen image
let shown = null;    // the job whose result is in the viewer

// ---------------------------------------------------------------- messages

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

// fraction: undefined hides the bar, 0 shows a busy bar, more shows how far it is
function setStatus(text, fraction) {
  const bar = $("progress");
  $("status-text").textContent = text;
  bar.hidden = fraction === undefined;
  if (fraction > 0) bar.value = fraction;
  else bar.removeAttribute("value");
}

const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const duration = (s) => (s < 10 ? `${s.toFixed(1)} s` : s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

// Fetch JSON; a failed request or an error answer throws an Error with a readable message.
async function fetchJson(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new Error("Could not reach the server: is frannet serve still running?");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: reported below from the status
  }
  if (!response.ok || body === null) {
    throw new Error((body && body.error) || `The server answered ${response.status} ${response.statusText}.`);
  }
  return body;
}

// ---------------------------------------------------------------- controls

function fillSelect(select, entries) {
  for (const [value, label] of entries) select.add(new Option(label, value));
}

function updateControls() {
  const task = $("task").value;
  $("size-controls").disabled = task === "denoise";
  $("noise-controls").disabled = task === "upscale" || task === "colorize";
  $("noise").disabled = $("noise-auto").checked;
  $("noise-value").textContent = $("noise-auto").checked ? "auto" : $("noise").value;
  $("jpeg-quality").disabled = $("jpeg").value !== "quality";
  const restorators = Object.fromEntries(config.restorators.map((r) => [r.id, r]));
  for (const option of $("restorator").options) option.disabled = !restorators[option.value].tasks.includes(task);
  if ($("restorator").selectedOptions[0].disabled) $("restorator").value = "single";
  const iterative = restorators[$("restorator").value].iterative;
  $("steps").disabled = $("samples").disabled = $("seed").disabled = $("cost").hidden = !iterative;
}

function chooseFile(chosen) {
  clearError();
  file = chosen;
  $("drop-text").textContent = `${file.name} (${megabytes(file.size)})`;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.hidden = false;
  preview.onerror = () => { preview.hidden = true; };  // a format the browser cannot show (TIFF ...)
  preview.src = URL.createObjectURL(file);
  if (config && file.size > config.max_upload_bytes) {  // run() checks again once the limits are known
    showError(`${file.name} is ${megabytes(file.size)}, over the upload limit of ${config.max_upload_mb} MB.`);
  }
}

function setUpDrop() {
  const drop = $("drop");
  $("file").addEventListener("change", () => { if ($("file").files.length) chooseFile($("file").files[0]); });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) chooseFile(event.dataTransfer.files[0]);
  });
}

function formData() {
  const data = new FormData();
  data.append("image", file);
  data.append("task", $("task").value);
  data.append("resize", document.querySelector("input[name=resize]:checked").value);
  data.append("scale", $("scale").value.trim());
  data.append("size", $("size").value.trim());
  data.append("noise", $("noise-auto").checked ? "auto" : $("noise").value);
  data.append("jpeg", $("jpeg").value === "quality" ? $("jpeg-quality").value : $("jpeg").value);
  data.append("restorator", $("restorator").value);
  if (!$("steps").disabled) {
    data.append("steps", $("steps").value);
    data.append("samples", $("samples").value);
    data.append("seed", $("seed").value);
  }
  return data;
}

// ---------------------------------------------------------------- jobs

function showProgress(job) {
  const estimate = job.estimate_seconds === null ? "" : ` (about ${duration(job.estimate_seconds)} in all)`;
  if (job.status === "queued") {
    const where = job.position === 1 ? "next in the queue" : `position ${job.position} in the queue`;
    setStatus(`Waiting: ${where}${estimate}`);
  } else {
    setStatus(`Running${job.progress > 0 ? `: ${Math.round(job.progress * 100)}%` : "…"}${estimate}`, job.progress);
  }
}

async function run(event) {
  event.preventDefault();
  clearError();
  if (!file) return showError("Choose an image first.");
  if (file.size > config.max_upload_bytes) {
    return showError(`${file.name} is ${megabytes(file.size)}, over the upload limit of ${config.max_upload_mb} MB.`);
  }
  $("run").disabled = true;
  setStatus("Uploading…");
  try {
    let job = await fetchJson("/api/jobs", { method: "POST", body: formData() });
    while (job.status === "queued" || job.status === "running") {
      showProgress(job);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await fetchJson(`/api/jobs/${job.id}`);
    }
    if (job.status === "error") throw new Error(job.error);
    setStatus("Loading the result…");
    await showResult(job);
    setStatus(`Done in ${duration(job.seconds)}.`);
  } catch (error) {
    setStatus("");
    showError(error.message);
  } finally {
    $("run").disabled = false;
  }
}

async function showResult(job) {
  const before = $("before");
  const after = $("after");
  before.src = job.input;
  after.src = job.result;
  await Promise.all([before.decode(), after.decode()]);
  view.width = job.width;
  view.height = job.height;
  $("stage").style.width = `${job.width}px`;
  $("stage").style.height = `${job.height}px`;
  $("download").href = job.result;
  $("download").download = job.filename;
  $("result-info").textContent = `${job.input_width}×${job.input_height} → ${job.width}×${job.height} px`
    + ` in ${duration(job.seconds)}`;
  shown = job;
  $("show-uncertainty").checked = false;
  $("uncertainty-choice").hidden = !job.uncertainty;
  $("after").alt = "result";
  $("tag-after").textContent = "after";
  $("viewer").hidden = false;
  fit();
}

// ---------------------------------------------------------------- before/after view with zoom and pan

// zoom: screen px per image px; x, y: where the image's top-left corner is in the view;
// split: the divider, as a fraction of the view's width (the input left of it, the result right)
const view = { zoom: 1, x: 0, y: 0, split: 0.5, width: 1, height: 1 };
const MAX_ZOOM = 32;

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

function keepInView() {
  const box = $("compare");
  for (const [axis, side, size] of [["x", box.clientWidth, view.width], ["y", box.clientHeight, view.height]]) {
    const shown = size * view.zoom;
    view[axis] = shown <= side ? (side - shown) / 2 : clamp(view[axis], side - shown, 0);
  }
}

function render() {
  const box = $("compare");
  keepInView();
  $("stage").style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`;
  const cut = (view.split * box.clientWidth - view.x) / view.zoom;  // the divider in image pixels
  $("after").style.clipPath = `inset(0 0 0 ${clamp(cut, 0, view.width)}px)`;
  $("divider").style.left = `${view.split * 100}%`;
  $("divider").setAttribute("aria-valuenow", Math.round(view.split * 100));
  $("zoom-level").textContent = `${Math.round(view.zoom * 100)}%`;
}

function minZoom() {
  const box = $("compare");
  return Math.min(1, box.clientWidth / view.width, box.clientHeight / view.height);
}

function zoomAt(zoom, px, py) {
  zoom = clamp(zoom, minZoom(), MAX_ZOOM);
  view.x = px - ((px - view.x) * zoom) / view.zoom;
  view.y = py - ((py - view.y) * zoom) / view.zoom;
  view.zoom = zoom;
  render();
}

function zoomAtCentre(zoom) {
  const box = $("compare");
  zoomAt(zoom, box.clientWidth / 2, box.clientHeight / 2);
}

function fit() {
  const box = $("compare");
  view.zoom = Math.min(box.clientWidth / view.width, box.clientHeight / view.height, MAX_ZOOM);
  render();
}

function setUpCompare() {
  const box = $("compare");
  const divider = $("divider");
  let drag = null;  // "split" or "pan" while a pointer is down
  let last = null;
  box.addEventListener("pointerdown", (event) => {
    drag = divider.contains(event.target) ? "split" : "pan";
    last = { x: event.clientX, y: event.clientY };
    box.setPointerCapture(event.pointerId);
    box.classList.toggle("panning", drag === "pan");
  });
  box.addEventListener("pointermove", (event) => {
    if (drag === "split") {
      const rect = box.getBoundingClientRect();
      view.split = clamp((event.clientX - rect.left) / rect.width, 0, 1);
    } else if (drag === "pan") {
      view.x += event.clientX - last.x;
      view.y += event.clientY - last.y;
      last = { x: event.clientX, y: event.clientY };
    } else {
      return;
    }
    render();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    box.addEventListener(type, () => { drag = null; box.classList.remove("panning"); });
  }
  box.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = box.getBoundingClientRect();
    zoomAt(view.zoom * Math.exp(-event.deltaY * 0.002), event.clientX - rect.left, event.clientY - rect.top);
  }, { passive: false });
  divider.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 0.1 : 0.02;
    const moves = { ArrowLeft: -step, ArrowRight: step, Home: -1, End: 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    view.split = clamp(view.split + moves[event.key], 0, 1);
    render();
  });
  $("zoom-in").addEventListener("click", () => zoomAtCentre(view.zoom * 2));
  $("zoom-out").addEventListener("click", () => zoomAtCentre(view.zoom / 2));
  $("zoom-1").addEventListener("click", () => zoomAtCentre(1));
  $("zoom-fit").addEventListener("click", fit);
  $("show-uncertainty").addEventListener("change", () => {
    const on = $("show-uncertainty").checked;
    $("after").src = on ? shown.uncertainty : shown.result;
    $("after").alt = on ? "uncertainty map of the result" : "result";
    $("tag-after").textContent = on ? "uncertainty" : "after";
  });
  window.addEventListener("resize", () => { if (!$("viewer").hidden) render(); });
}

// ---------------------------------------------------------------- start

async function start() {
  setUpDrop();
  setUpCompare();
  try {
    config = await fetchJson("/api/config");
  } catch (error) {
    showError(error.message);
    return;
  }
  fillSelect($("task"), Object.entries(config.tasks));
  fillSelect($("restorator"), config.restorators.map((r) => [r.id, r.label]));
  $("noise").max = config.max_noise;
  $("steps").max = config.limits.steps;
  $("samples").max = config.limits.samples;
  $("seed").max = config.max_seed;
  $("cost").textContent = `About ${config.step_seconds_per_megapixel} s per output megapixel, step and sample `
    + "on 2 CPU threads; 2 or more samples also give an uncertainty map.";
  $("limits").textContent = `Uploads up to ${config.max_upload_mb} MB; inputs and results up to `
    + `${(config.max_pixels / 1e6).toLocaleString("en", { maximumFractionDigits: 2 })} megapixels.`;
  for (const id of ["task", "restorator", "noise", "noise-auto", "jpeg"]) {
    $(id).addEventListener("input", updateControls);
  }
  updateControls();
  $("controls").addEventListener("submit", run);
  $("run").disabled = false;
}

start();
