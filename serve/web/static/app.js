"use strict";
// The page of vit serve: classify an image picked, dropped or named by
// ?image=/same-origin/path, show the top-5 labels and the rollout overlay.
const $ = (id) => document.getElementById(id);

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function errorOf(resp) {
  try { return (await resp.json()).error; } catch (e) { return resp.status + " " + resp.statusText; }
}

async function classify(blob) {
  const model = $("model").value;
  if (!model) { status("this server has no model", true); return; }
  document.body.dataset.state = "busy";
  status("classifying…");
  $("preview").src = URL.createObjectURL(blob);
  const name = encodeURIComponent(model);
  const [pred, roll] = await Promise.all([
    fetch("/v1/models/" + name + ":predict?top=5", { method: "POST", body: blob }),
    fetch("/ui/models/" + name + "/rollout", { method: "POST", body: blob }),
  ]);
  // A model without a classifier (a CLIP or DINOv2 image tower) answers
  // :predict 400 with the reason; its rollout is still shown.
  const predError = pred.ok ? "" : await errorOf(pred);
  if (predError && !roll.ok) {
    status(predError, true);
    document.body.dataset.state = "error";
    return;
  }
  const top = pred.ok ? (await pred.json()).predictions[0].top : [];
  const list = $("labels");
  list.replaceChildren();
  for (const c of top) {
    const li = document.createElement("li");
    li.className = "label";
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = c.label;
    const track = document.createElement("span");
    track.className = "track";
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = (100 * c.prob).toFixed(1) + "%";
    bar.style.display = "block";
    track.append(bar);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = (100 * c.prob).toFixed(1) + "%";
    li.append(label, track, pct);
    list.append(li);
  }
  if (roll.ok) {
    $("rollout").src = URL.createObjectURL(await roll.blob());
    $("rollout").hidden = false;
  } else {
    $("rollout").hidden = true;
    status(await errorOf(roll), true);
  }
  $("result").hidden = false;
  if (predError) status(predError, true);
  else if (roll.ok) status("");
  document.body.dataset.state = "done";
}

async function init() {
  const resp = await fetch("/v1/models");
  const models = resp.ok ? (await resp.json()).models : [];
  for (const m of models) {
    const o = document.createElement("option");
    o.value = o.textContent = m;
    $("model").append(o);
  }
  $("file").addEventListener("change", () => { if ($("file").files[0]) classify($("file").files[0]); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) classify(e.dataTransfer.files[0]);
  });
  // ?image=/path: an image of this server's origin, classified on load.
  const src = new URLSearchParams(location.search).get("image");
  if (src && src.startsWith("/") && !src.startsWith("//")) {
    const img = await fetch(src);
    if (img.ok) classify(await img.blob());
    else status("cannot fetch " + src, true);
  }
}

init().catch((e) => { status(String(e), true); document.body.dataset.state = "error"; });
