// The clinician's web app end to end in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): sign in with a token, upload a chest X-ray, see label / probability /
// threshold / Grad-CAM / the model card's intended use; then the diabetes page: paste a history,
// get the chart and the recommendation with its reasons. Screenshots go to OUT_DIR. With the
// optional arguments: a blank image gets its label withheld by the out-of-distribution guard, and
// a segmenter model draws its mask over a microscopy image.
// With TEXT=1 the server also has text models: the Ask page shows answers with their sources
// (and "No trusted answer found" for an off-topic question), the Scribe page a drafted note section.
//   node ui_test.mjs URL TOKEN IMAGE HISTORY_CSV OUT_DIR [BLANK_IMAGE SEG_MODEL SEG_IMAGE [TEXT]]
import { chromium } from "playwright-core";
import fs from "node:fs";

const [url, token, image, historyCsv, outDir, blankImage, segModel, segImage, withText] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node ui_test.mjs URL TOKEN IMAGE HISTORY_CSV OUT_DIR");
  process.exit(2);
}
const fail = (msg) => { console.error("FAIL: " + msg); process.exitCode = 1; };

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  page.on("pageerror", (e) => fail("page error: " + e.message));
  await page.goto(url);

  // A wrong token is refused on the page.
  await page.fill("#token", "mdai_1_wrong");
  await page.click("#signin-btn");
  await page.waitForFunction(() => document.getElementById("signin-error").textContent.length > 0);

  await page.fill("#token", token);
  await page.click("#signin-btn");
  await page.waitForSelector("#nav:not(.hidden)", { timeout: 15000 });

  await page.setInputFiles("#xray-file", image);
  await page.click("#xray-btn");
  await page.waitForSelector("#xray-result:not(.hidden)", { timeout: 60000 });
  const label = (await page.textContent("#xray-label")).trim();
  const prob = await page.textContent("#xray-prob");
  const cam = await page.getAttribute("#xray-cam", "src");
  const use = await page.textContent("#card-use");
  if (!label) fail("no label shown");
  if (!/Probability 0?\.\d+|Probability 1\.0/.test(prob) || !/threshold/.test(prob)) fail("probability/threshold missing: " + prob);
  if (!cam || !cam.startsWith("data:image/png;base64,")) fail("no Grad-CAM overlay");
  if (!use || use.startsWith("not stated")) fail("model card's intended use missing");
  await page.screenshot({ path: outDir + "/ui-xray.png", fullPage: true });

  if (blankImage) {  // the guard: no label, the probability greyed with the reason
    await page.setInputFiles("#xray-file", blankImage);
    await page.click("#xray-btn");
    await page.waitForFunction(() => document.getElementById("xray-label").textContent.startsWith("Withheld"),
                               null, { timeout: 60000 });
    const cls = await page.getAttribute("#xray-label", "class");
    const why = await page.textContent("#xray-label");
    if (!/withheld/.test(cls) || !/blank/.test(why)) fail("blank image not withheld: " + why);
    await page.screenshot({ path: outDir + "/ui-withheld.png", fullPage: true });
  }
  if (segModel) {  // a segmenter: the overlay titled Segmentation, objects counted
    await page.selectOption("#model", segModel);
    await page.setInputFiles("#xray-file", segImage);
    await page.click("#xray-btn");
    await page.waitForFunction(() => document.getElementById("xray-overlay-title").textContent === "Segmentation",
                               null, { timeout: 60000 });
    const objects = await page.textContent("#xray-label");
    const overlay = await page.getAttribute("#xray-cam", "src");
    if (!/\d+ objects/.test(objects)) fail("no object count: " + objects);
    if (!overlay || !overlay.startsWith("data:image/png;base64,")) fail("no segmentation overlay");
    await page.screenshot({ path: outDir + "/ui-segmentation.png", fullPage: true });
  }

  await page.click("#tab-diabetes");
  await page.fill("#hist-text", fs.readFileSync(historyCsv, "utf8"));
  await page.fill("#s-carbs", "45");
  await page.click("#rec-btn");
  await page.waitForSelector("#rec-result:not(.hidden)", { timeout: 15000 });
  const dose = await page.textContent("#rec-dose");
  const reasons = await page.$$eval("#rec-reasons li", (li) => li.length);
  const inked = await page.evaluate(() => {
    const c = document.getElementById("chart");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  if (!/bolus \d+\.\d+ U/.test(dose)) fail("no dose: " + dose);
  if (reasons < 4) fail("only " + reasons + " reasons");
  if (inked < 1000) fail("the chart is empty");
  await page.screenshot({ path: outDir + "/ui-diabetes.png", fullPage: true });
  await page.click("#tab-warfarin");
  await page.fill("#wf-age", "67");
  await page.fill("#wf-weight", "80");
  await page.selectOption("#wf-cyp", "*1/*3");
  await page.click("#wf-btn");
  await page.waitForSelector("#wf-result:not(.hidden)", { timeout: 15000 });
  const warfarin = await page.textContent("#wf-dose");
  if (!/\d+\.\d mg\/week/.test(warfarin)) fail("no warfarin dose: " + warfarin);
  if ((await page.$$("#wf-warnings li")).length < 1) fail("imputed height without a warning");
  if (!/Untyped \(VKORC1\)/.test(await page.textContent("#wf-genotype"))) fail("no genotype-test advice");
  await page.screenshot({ path: outDir + "/ui-warfarin.png", fullPage: true });
  if (withText === "1") {
    await page.click("#tab-ask");
    await page.fill("#ask-question", "What are the symptoms of gout?");
    await page.click("#ask-btn");
    await page.waitForSelector("#ask-result:not(.hidden)", { timeout: 15000 });
    const sources = await page.$$eval("#ask-answers .answer a", (a) => a.map((x) => x.href));
    if (sources.length === 0 || !sources.every((h) => h.startsWith("http"))) fail("answers without sources: " + sources);
    await page.screenshot({ path: outDir + "/ui-ask.png", fullPage: true });
    await page.fill("#ask-question", "how do I fix a gearbox");
    await page.click("#ask-btn");
    await page.waitForFunction(() => /No trusted answer/.test(document.getElementById("ask-status").textContent), null, { timeout: 15000 });
    if ((await page.$$("#ask-answers .answer")).length !== 0) fail("an untrusted answer was shown");
    await page.click("#tab-scribe");
    await page.fill("#scribe-dialogue", "Doctor: Any allergies, Mrs. Garcia?\nPatient: I am allergic to latex.");
    await page.click("#scribe-btn");
    await page.waitForSelector("#scribe-result:not(.hidden)", { timeout: 15000 });
    const section = await page.textContent("#scribe-section"), draft = await page.textContent("#scribe-draft");
    if (!/ALLERGY/.test(section)) fail("section: " + section);
    if (!/latex/.test(draft) || /Garcia/.test(draft)) fail("draft: " + draft);
    await page.screenshot({ path: outDir + "/ui-scribe.png", fullPage: true });
  }
  console.log(JSON.stringify({ label, prob, dose, reasons, chart_pixels: inked, warfarin }));
} finally {
  await browser.close();
}
