// medai web app: plain JS, no build step. The token lives in sessionStorage only.
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("medai_token") || "";
let cards = {};
let tasks = {};  // model name -> task of its default version
const SEGMENTER = "binary image segmentation";

async function api(path, opts = {}) {
  opts.headers = Object.assign({ Authorization: "Bearer " + token }, opts.headers || {});
  const res = await fetch(path, opts);
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { body = { error: { message: text } }; }
  if (!res.ok) throw new Error((body.error && body.error.message) || ("HTTP " + res.status));
  return body;
}

function show(id, on) { $(id).classList.toggle("hidden", !on); }

async function signIn() {
  token = $("token").value.trim() || token;
  try {
    const models = await api("/v1/models");
    sessionStorage.setItem("medai_token", token);
    show("signin", false); show("nav", true); show("xray", true);
    $("who").textContent = "signed in";
    const sel = $("model");
    sel.innerHTML = "";
    for (const m of models) {
      const v = m.versions.find((x) => x.version === m.default_version);
      if (!v || v.state !== "loaded") continue;
      const o = document.createElement("option");
      tasks[m.name] = v.task;
      o.value = m.name; o.textContent = m.name + " (v" + m.default_version + ")" + (v.task === SEGMENTER ? " - segmentation" : "");
      sel.appendChild(o);
    }
  } catch (e) {
    $("signin-error").textContent = "Sign-in failed: " + e.message;
  }
}

function showCard(card) {
  const text = (v) => Array.isArray(v) ? v.join(" ") : (v || "");
  $("card-use").textContent = text(card.intended_use) || "not stated in the model card";
  $("card-limits").textContent = text(card.limitations || card.limits) || "not stated in the model card";
}

// A segmenter: the mask drawn on the image, the object count, and for DICOM the SEG to download.
async function segment(name, f, isDicom, type) {
  const path = "/v1/models/" + encodeURIComponent(name) + "/segment";
  const r = await api(path, { method: "POST", headers: { "Content-Type": type }, body: f });
  if (!cards[name]) cards[name] = await api("/v1/models/" + encodeURIComponent(name));
  $("xray-overlay-title").textContent = "Segmentation";
  $("xray-cam").src = "data:image/png;base64," + r.overlay_png_base64;
  if (isDicom) { $("xray-image").src = "data:image/png;base64," + r.mask_png_base64; $("xray-image-note").textContent = "DICOM: the mask (white) is shown; the overlay uses the de-identified pixels."; }
  else { $("xray-image").src = URL.createObjectURL(f); $("xray-image-note").textContent = ""; }
  $("xray-label").textContent = r.instances + " objects, " + (100 * r.foreground_fraction).toFixed(1) + "% of the image (" + r.label + ")";
  $("xray-label").className = "label";
  $("xray-prob").textContent = "Mask threshold " + r.threshold.toFixed(2) + "; " + r.width + " x " + r.height + " pixels";
  $("xray-model").textContent = "Model " + r.model.name + " v" + r.model.version + " - sha256 " + r.model.sha256.slice(0, 12);
  const link = $("xray-seg-link");
  link.classList.add("hidden");
  if (isDicom) {
    const res = await fetch(path + "?format=dicom-seg", { method: "POST", headers: { Authorization: "Bearer " + token, "Content-Type": type }, body: f });
    if (res.ok) { link.href = URL.createObjectURL(await res.blob()); link.download = "segmentation.dcm"; link.classList.remove("hidden"); }
  }
  showCard(cards[name].card || {});
  show("xray-result", true);
}

async function analyse() {
  $("xray-error").textContent = "";
  const f = $("xray-file").files[0];
  if (!f) { $("xray-error").textContent = "Choose a PNG, JPEG or DICOM file."; return; }
  const name = $("model").value;
  const isDicom = f.name.toLowerCase().endsWith(".dcm");
  const type = isDicom ? "application/dicom" : (f.type || "application/octet-stream");
  if (tasks[name] === SEGMENTER) {
    try { await segment(name, f, isDicom, type); } catch (e) { $("xray-error").textContent = e.message; }
    return;
  }
  try {
    const r = await api("/v1/models/" + encodeURIComponent(name) + "/predict?explain=1",
                        { method: "POST", headers: { "Content-Type": type }, body: f });
    if (!cards[name]) cards[name] = await api("/v1/models/" + encodeURIComponent(name));
    const card = cards[name].card || {};
    $("xray-overlay-title").textContent = "Grad-CAM";
    $("xray-seg-link").classList.add("hidden");
    $("xray-cam").src = "data:image/png;base64," + r.gradcam_png_base64;
    if (isDicom) { $("xray-image").src = $("xray-cam").src; $("xray-image-note").textContent = "DICOM: shown as de-identified by the server."; }
    else { $("xray-image").src = URL.createObjectURL(f); $("xray-image-note").textContent = ""; }
    const positive = r.probability >= r.threshold;
    if (r.in_distribution === false) {
      // The guard flagged the input: no label; the probability is shown greyed, as not meaningful.
      $("xray-label").textContent = "Withheld: out of distribution - " + r.ood_reason;
      $("xray-label").className = "label withheld";
      $("xray-prob").textContent = "Probability " + r.probability.toFixed(3) + " is not meaningful for this image.";
      $("xray-prob").className = "withheld";
    } else {
      $("xray-label").textContent = r.label;
      $("xray-label").className = "label " + (positive ? "pos" : "neg");
      $("xray-prob").textContent = "Probability " + r.probability.toFixed(3) + " (operating threshold " + r.threshold.toFixed(3) + ")";
      $("xray-prob").className = "";
    }
    $("xray-model").textContent = "Model " + r.model.name + " v" + r.model.version + " - sha256 " + r.model.sha256.slice(0, 12);
    showCard(card);
    show("xray-result", true);
  } catch (e) {
    $("xray-error").textContent = e.message;
  }
}

function drawChart(cgm, forecast) {
  const c = $("chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const x0 = Math.min(...cgm.map((p) => p.minute)), x1 = 60;
  const px = (m) => 50 + (m - x0) / (x1 - x0) * (c.width - 70);
  const py = (v) => c.height - 30 - (Math.min(Math.max(v, 40), 400) - 40) / 360 * (c.height - 50);
  g.fillStyle = "#e3f4e3"; g.fillRect(px(x0), py(180), px(x1) - px(x0), py(70) - py(180));
  g.strokeStyle = "#999"; g.strokeRect(px(x0), py(400), px(x1) - px(x0), py(40) - py(400));
  g.fillStyle = "#333"; g.font = "12px sans-serif";
  for (const v of [70, 180, 250, 400]) g.fillText(String(v), 10, py(v) + 4);
  g.fillText("now", px(0) - 10, c.height - 10);
  g.fillStyle = "#1f77b4";
  for (const p of cgm) { g.beginPath(); g.arc(px(p.minute), py(p.mgdl), 2.5, 0, 7); g.fill(); }
  g.fillStyle = "#d62728";
  for (const [m, v] of [[30, forecast["30min"]], [60, forecast["60min"]]]) {
    g.beginPath(); g.arc(px(m), py(v), 5, 0, 7); g.fill(); g.fillText(Math.round(v) + " mg/dL", px(m) - 60, py(v) - 8);
  }
}

async function recommend() {
  $("rec-error").textContent = "";
  try {
    const body = {
      history: $("hist-text").value,
      carbs_g: Number($("s-carbs").value),
      settings: { basal_u_per_h: Number($("s-basal").value), cr: Number($("s-cr").value),
                  cf: Number($("s-cf").value), tdi: Number($("s-tdi").value) },
    };
    const r = await api("/v1/glucose/recommend", { method: "POST", headers: { "Content-Type": "application/json" },
                                                    body: JSON.stringify(body) });
    drawChart(r.cgm, r.forecast_mgdl);
    $("rec-dose").textContent = "Basal " + r.recommendation.basal_u_per_h.toFixed(2) + " U/h, bolus " +
                                r.recommendation.bolus_u.toFixed(2) + " U now";
    const ul = $("rec-reasons"); ul.innerHTML = "";
    for (const reason of r.reasons) { const li = document.createElement("li"); li.textContent = reason; ul.appendChild(li); }
    show("rec-result", true);
  } catch (e) {
    $("rec-error").textContent = e.message;
  }
}

$("signin-btn").onclick = signIn;
$("xray-btn").onclick = analyse;
$("rec-btn").onclick = recommend;
$("hist-file").onchange = async () => { const f = $("hist-file").files[0]; if (f) $("hist-text").value = await f.text(); };
const PAGES = ["xray", "diabetes", "ask", "scribe", "molecules", "warfarin"];
for (const page of PAGES) {
  $("tab-" + page).onclick = () => {
    for (const p of PAGES) { show(p, p === page); $("tab-" + p).classList.toggle("active", p === page); }
  };
}

// Ask: answers only with their source; "no trusted answer found" otherwise.
async function ask() {
  $("ask-error").textContent = ""; show("ask-result", false);
  try {
    const r = await api("/v1/text/ask", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify({ question: $("ask-question").value }) });
    const box = $("ask-answers"); box.innerHTML = "";
    $("ask-status").textContent = r.trusted ? "Answers (confidence " + r.confidence.toFixed(2) + ")" : "No trusted answer found";
    $("ask-status").className = "label" + (r.trusted ? "" : " withheld");
    for (const a of r.answers) {
      const div = document.createElement("div"); div.className = "answer";
      const h = document.createElement("strong"); h.textContent = a.focus || "answer";
      const p = document.createElement("p"); p.textContent = a.answer.length > 800 ? a.answer.slice(0, 800) + " ..." : a.answer;
      const src = document.createElement("p"); src.className = "src";
      const link = document.createElement("a"); link.href = a.url; link.textContent = a.url; link.target = "_blank"; link.rel = "noopener";
      src.append("Source: ", link, " (score " + a.score.toFixed(2) + ")");
      div.append(h, p, src); box.appendChild(div);
    }
    show("ask-result", true);
  } catch (e) {
    $("ask-error").textContent = e.message;
  }
}

async function scribe() {
  $("scribe-error").textContent = ""; show("scribe-result", false);
  try {
    const r = await api("/v1/text/note", { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify({ dialogue: $("scribe-dialogue").value }) });
    $("scribe-section").textContent = r.section + " (p " + r.probability.toFixed(2) + ")";
    $("scribe-alternatives").textContent = "Other sections: " +
      r.top_sections.slice(1).map((t) => t.section + " " + t.probability.toFixed(2)).join(", ") +
      (r.phi_replaced ? "; " + r.phi_replaced + " identifiers replaced" : "");
    $("scribe-draft").textContent = r.draft;
    $("scribe-limits").textContent = r.limits;
    show("scribe-result", true);
  } catch (e) {
    $("scribe-error").textContent = e.message;
  }
}
$("ask-btn").onclick = ask;
$("ask-question").onkeydown = (e) => { if (e.key === "Enter") ask(); };
$("scribe-btn").onclick = scribe;

function moleculeCard(r, tasks) {
  const div = document.createElement("div");
  div.className = "molecule";
  div.style = "display:inline-block;vertical-align:top;width:310px;margin:6px;padding:6px;border:1px solid #ddd;border-radius:6px";
  const title = document.createElement("p");
  title.className = "label";
  title.textContent = "Row " + r.row + ": " + (r.smiles || "");
  div.appendChild(title);
  if (r.error) {
    const e = document.createElement("p"); e.className = "error"; e.textContent = r.error; div.appendChild(e);
    return div;
  }
  if (r.svg) {
    const img = document.createElement("img");
    img.alt = r.canonical_smiles; img.width = 300; img.height = 220;
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(r.svg);
    div.appendChild(img);
  }
  const list = document.createElement("ul");
  for (const t of tasks) {
    const li = document.createElement("li");
    const p = r.predictions[t];
    li.textContent = t + ": " + p.value.toFixed(3) + " \u00b1 " + p.sd.toFixed(3);
    list.appendChild(li);
  }
  div.appendChild(list);
  const dom = document.createElement("p");
  dom.className = r.in_domain ? "muted" : "error";
  dom.textContent = "Nearest training molecule: Tanimoto " + r.nearest_training_similarity.toFixed(2) +
    (r.in_domain ? "" : " - out of the model's domain");
  div.appendChild(dom);
  if (r.alerts.length) {
    const a = document.createElement("p"); a.className = "error";
    a.textContent = "Alerts: " + r.alerts.map((x) => x.catalog + " " + x.description).join(", ");
    div.appendChild(a);
  }
  return div;
}

async function screenMolecules() {
  $("mol-error").textContent = ""; show("mol-result", false);
  const smiles = $("mol-smiles").value.split("\n").map((s) => s.trim()).filter((s) => s.length);
  const body = { smiles, draw: true };
  if ($("mol-task").value.trim()) body.task = $("mol-task").value.trim();
  try {
    const r = await api("/v1/molecules/predict", { method: "POST", headers: { "Content-Type": "application/json" },
                                                   body: JSON.stringify(body) });
    $("mol-summary").textContent = r.results.length + " molecules; model " + r.model + " (" + r.task_type + ", " +
      r.tasks.length + " tasks)";
    const list = $("mol-list"); list.replaceChildren();
    for (const m of r.results) list.appendChild(moleculeCard(m, r.tasks));
    $("mol-limits").textContent = r.limits;
    show("mol-result", true);
  } catch (e) {
    $("mol-error").textContent = e.message;
  }
}
$("mol-btn").onclick = screenMolecules;

function listItems(id, items) {
  const ul = $(id); ul.replaceChildren();
  for (const t of items) { const li = document.createElement("li"); li.textContent = t; ul.appendChild(li); }
}

async function recommendDose() {
  $("wf-error").textContent = ""; show("wf-result", false);
  const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
  const body = { age: num("wf-age"), height_cm: num("wf-height"), weight_kg: num("wf-weight"), race: $("wf-race").value,
                 cyp2c9: $("wf-cyp").value || null, vkorc1: $("wf-vkorc1").value || null,
                 amiodarone: $("wf-amio").checked, enzyme_inducer: $("wf-inducer").checked };
  try {
    const r = await api("/v1/dose/recommend", { method: "POST", headers: { "Content-Type": "application/json" },
                                                body: JSON.stringify(body) });
    $("wf-dose").textContent = r.dose_mg_week.toFixed(1) + " mg/week (" + r.dose_mg_day.toFixed(1) + " mg/day), " +
      r.dose_band;
    $("wf-interval").textContent = Math.round(100 * r.interval_level) + " % interval " +
      r.interval_mg_week[0].toFixed(1) + " to " + r.interval_mg_week[1].toFixed(1) + " mg/week (model " + r.model + ")";
    listItems("wf-warnings", r.warnings);
    listItems("wf-contrib", r.contributions.filter((c) => Math.abs(c.mg_week) >= 0.05)
      .map((c) => c.feature + " (" + c.value + "): " + (c.mg_week >= 0 ? "+" : "") + c.mg_week.toFixed(1)));
    const g = r.genotype_test;
    $("wf-genotype").textContent = g.typed
      ? "Typed: without the genotypes the dose would be " + g.dose_if_untyped_mg_week.toFixed(1) + " mg/week."
      : "Untyped (" + g.untyped.join(", ") + "): a test would put the dose between " +
        g.dose_range_10_90_mg_week[0].toFixed(1) + " and " + g.dose_range_10_90_mg_week[1].toFixed(1) +
        " mg/week (10th-90th percentile); " + Math.round(100 * g.probability_other_dose_band) +
        " % chance of another dose band.";
    $("wf-use").textContent = r.intended_use;
    show("wf-result", true);
  } catch (e) {
    $("wf-error").textContent = e.message;
  }
}
$("wf-btn").onclick = recommendDose;
if (token) signIn();
