// Clinical text routes: de-identification, answers with sources, dialogue -> note section, and
// classification. Every text is de-identified first: the models see (and the answers carry) the
// placeholders, and the audit keeps only the body's hash and non-identifying results.
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/server/api.h"
#include "medai/text/clinical_note.h"
#include "medai/text/deid.h"
#include "medai/text/retrieval.h"
#include "medai/text/text_classification.h"
#include "medai/text/text_util.h"
#include "medai/text/transformer_classifier.h"

namespace medai::server {

using nlohmann::json;

std::shared_ptr<const TextModels> load_text_models(const ServerOptions& o) {
  auto m = std::make_shared<TextModels>();
  if (!o.text_index.empty()) {
    m->answers = std::make_shared<text::AnswerIndex>(text::AnswerIndex::load(o.text_index));
    spdlog::info("answer index {} loaded for /v1/text/ask ({} answers)", o.text_index.string(), m->answers->size());
  }
  if (!o.note_model.empty()) {
    m->note = std::make_shared<text::NoteModel>(text::NoteModel::load(o.note_model / "note_model.bin"));
    spdlog::info("note model {} loaded for /v1/text/note", o.note_model.string());
  }
  if (!o.text_classifier.empty()) {
    m->classifier = std::make_shared<text::TextClassifierModel>(text::TextClassifierModel::load(o.text_classifier));
    spdlog::info("text classifier {} ({}) loaded for /v1/text/classify", o.text_classifier.string(),
                 m->classifier->method());
  }
  return m;
}

namespace {

// The named text field, checked and de-identified.
text::Deidentified deidentified_field(const json& body, const std::string& field) {
  const auto it = body.find(field);
  if (it == body.end() || !it->is_string()) fail_invalid("field '" + field + "' must be a string");
  const std::string& value = it->get_ref<const std::string&>();
  text::check_text(value, "field '" + field + "'");
  return text::deidentify(value);
}

template <class T>
const T& loaded(const std::shared_ptr<const T>& model, const char* flag) {
  if (!model)
    fail(ErrorCode::NotFound,
         std::string("this server has no such model (start it with medai serve ") + flag + " DIR)");
  return *model;
}

void deid(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  const auto d = deidentified_field(parse_json_body(req, "deid"), "text");
  json spans = json::array();
  for (const auto& s : d.spans)
    spans.push_back({{"begin", s.begin}, {"end", s.end}, {"kind", text::phi_kind_name(s.kind)}});
  ctx.audit(req, "deid", "text_deid", {{"spans", d.spans.size()}}, now_ms() - t0, core::sha256_hex(req.body));
  res.json(200, {{"text", d.text}, {"spans", spans}});
}

void ask(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  const auto& index = loaded(ctx.text->answers, "--text-index");
  const json body = parse_json_body(req, "ask");
  const auto q = deidentified_field(body, "question");
  const double top_d = body_number(body, "top", 3);
  if (top_d < 1 || top_d > 20 || top_d != static_cast<int>(top_d))
    fail_invalid("field 'top' must be a whole number 1..20");
  const double min_confidence = body_number(body, "min_confidence", 0.5);
  const auto hits = index.ask(q.text, static_cast<size_t>(top_d));
  const double confidence = hits.empty() ? 0.0 : hits[0].confidence;
  const bool trusted = confidence >= min_confidence;
  json answers = json::array();
  for (const auto& h : hits) {
    const auto& a = index.answer(h.index);
    if (a.url.empty()) continue;  // never an answer without its source
    answers.push_back(
        {{"answer", a.text}, {"url", a.url}, {"focus", a.focus}, {"score", h.score}, {"coverage", h.coverage}});
  }
  const json first = answers.empty() ? json() : json{{"url", answers[0]["url"]}, {"focus", answers[0]["focus"]}};
  ctx.audit(req, "ask", "text_ask", {{"trusted", trusted}, {"confidence", confidence}, {"top", first}}, now_ms() - t0,
            core::sha256_hex(req.body));
  res.json(200, {{"trusted", trusted && !answers.empty()},
                 {"confidence", confidence},
                 {"answers", trusted ? answers : json::array()},
                 {"message", trusted && !answers.empty() ? "" : "no trusted answer found"},
                 {"question_deidentified", q.text}});
}

void note(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  const auto& model = loaded(ctx.text->note, "--note-model");
  const auto d = deidentified_field(parse_json_body(req, "note"), "dialogue");
  const auto n = model.predict(d.text);
  json top = json::array();
  for (const auto& [s, p] : n.top) top.push_back({{"section", s}, {"probability", p}});
  ctx.audit(req, "note", "text_note", {{"section", n.section}, {"probability", n.probability}}, now_ms() - t0,
            core::sha256_hex(req.body));
  res.json(200, {{"section", n.section},
                 {"probability", n.probability},
                 {"top_sections", top},
                 {"draft", n.draft},
                 {"phi_replaced", d.spans.size()},
                 {"limits",
                  "An extractive draft from the conversation's own words, de-identified; a clinician "
                  "must review and edit it."}});
}

void classify(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  const auto& model = loaded(ctx.text->classifier, "--text-classifier");
  const auto d = deidentified_field(parse_json_body(req, "classify"), "text");
  const auto p = model.probabilities(d.text);
  const size_t best = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
  json probs = json::object();
  for (size_t c = 0; c < p.size(); ++c) probs[model.classes()[c]] = p[c];
  ctx.audit(req, "classify", "text_classify", {{"label", model.classes()[best]}, {"probability", p[best]}},
            now_ms() - t0, core::sha256_hex(req.body));
  res.json(200, {{"label", model.classes()[best]}, {"probability", p[best]}, {"probabilities", probs}});
}

}  // namespace

void register_text_routes(ServerContext& ctx, std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/text/deid", "text_deid", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { deid(ctx, req, res); }});
  routes.push_back({"POST", "/v1/text/ask", "text_ask", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { ask(ctx, req, res); }});
  routes.push_back({"POST", "/v1/text/note", "text_note", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { note(ctx, req, res); }});
  routes.push_back({"POST", "/v1/text/classify", "text_classify", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { classify(ctx, req, res); }});
}

}  // namespace medai::server
