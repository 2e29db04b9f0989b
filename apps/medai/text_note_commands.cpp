// medai text deid | note-train | note-eval | note: de-identification and dialogue -> note section.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/io/csv.h"
#include "medai/metrics/rouge.h"
#include "medai/text/clinical_note.h"
#include "medai/text/deid.h"
#include "medai/text/text_util.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json deid_spans_json(const std::vector<text::PhiSpan>& spans) {
  json out = json::array();  // offsets and kinds only: the removed values are never printed
  for (const auto& s : spans)
    out.push_back(
        {{"begin", s.begin}, {"end", s.end}, {"kind", text::phi_kind_name(s.kind)}, {"replacement", s.replacement}});
  return out;
}

void print_deid_score(const text::DeidScore& s, bool as_json, bool show_missed) {
  json by_kind = json::object();
  for (const auto& [kind, r] : s.span_recall_by_kind) by_kind[text::phi_kind_name(kind)] = r;
  if (as_json) {
    json j = {{"recall", s.token_recall},
              {"precision", s.token_precision},
              {"f1", s.token_f1},
              {"span_recall", s.span_recall},
              {"span_recall_by_kind", by_kind},
              {"documents", s.documents},
              {"gold_spans", s.gold_spans},
              {"gold_tokens", s.gold_tokens},
              {"predicted_tokens", s.predicted_tokens},
              {"level", "token (alphanumeric runs); a span counts as removed when all its tokens are"}};
    if (show_missed) j["missed"] = s.missed;
    return print_json(j);
  }
  std::printf("%zu documents, %zu PHI spans: token recall %.3f, precision %.3f, F1 %.3f; spans removed entirely %.3f\n",
              s.documents, s.gold_spans, s.token_recall, s.token_precision, s.token_f1, s.span_recall);
  for (const auto& [kind, r] : s.span_recall_by_kind)
    std::printf("  %-8s span recall %.3f\n", text::phi_kind_name(kind), r);
  if (show_missed)
    for (const auto& m : s.missed) std::printf("  missed %s\n", m.c_str());
}

void add_deid_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand(
      "deid",
      "remove names, dates, ages > 89, phone/fax, e-mail, IDs, addresses, URLs and IPs from text (HIPAA Safe "
      "Harbor categories), one placeholder per value within a document");
  struct Opts {
    std::string input = "-", out = "-", evaluate, style = "numbered";
    fs::path data;
    std::vector<std::string> text_cols;
    bool json = false, show_missed = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--input", o->input, "plain-text document ('-': standard input)")->capture_default_str();
  cmd->add_option("--out", o->out, "where the de-identified text or CSV goes ('-': standard output)")
      ->capture_default_str();
  cmd->add_option("--data", o->data, "CSV whose --text-col columns are de-identified (one document per cell)");
  cmd->add_option("--text-col", o->text_cols, "column(s) of --data to de-identify")->delimiter(',');
  cmd->add_option("--style", o->style, "numbered: [NAME-1], the same value the same number; kind: [NAME]")
      ->check(CLI::IsMember({"numbered", "kind"}))
      ->capture_default_str();
  cmd->add_option("--evaluate", o->evaluate,
                  "score against documents annotated inline (<NAME>...</NAME>, documents separated by ---)");
  cmd->add_flag("--json", o->json, "text: the result with its spans (offsets, kinds); --evaluate: the figures");
  cmd->add_flag("--show-missed", o->show_missed, "--evaluate: list the annotated values not removed");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto style = o->style == "kind" ? text::DeidStyle::kKind : text::DeidStyle::kNumbered;
    const auto emit = [&](const std::string& bytes) {
      if (o->out == "-") {
        std::fwrite(bytes.data(), 1, bytes.size(), stdout);
      } else {
        core::write_file_atomic(o->out, bytes);
      }
    };
    if (!o->evaluate.empty()) {
      const auto docs = text::parse_annotated_documents(core::read_file(o->evaluate), o->evaluate);
      if (docs.empty()) fail_invalid(o->evaluate + ": holds no document");
      return print_deid_score(text::score_deid(docs), o->json, o->show_missed);
    }
    if (!o->data.empty()) {
      if (o->text_cols.empty()) fail_invalid("--data needs --text-col (the column(s) to de-identify)");
      if (o->out == "-") fail_invalid("--data needs --out (the CSV to write)");
      io::CsvTable t = io::read_csv(o->data);
      std::vector<size_t> cols;
      for (const auto& c : o->text_cols) cols.push_back(t.column(c));
      std::string csv;
      const auto line = [&csv](const std::vector<std::string>& fields) {
        for (size_t i = 0; i < fields.size(); ++i) {
          if (i) csv += ',';
          csv += io::csv_escape(fields[i]);
        }
        csv += "\n";
      };
      line(t.header);
      size_t spans = 0;
      for (size_t r = 0; r < t.rows.size(); ++r) {
        for (size_t c : cols) {
          if (!text::is_valid_utf8(t.rows[r][c]))
            fail_invalid(o->data.string() + " row " + std::to_string(r) + ", column '" + t.header[c] +
                         "': not valid UTF-8 text");
          auto d = text::deidentify(t.rows[r][c], style);
          spans += d.spans.size();
          t.rows[r][c] = std::move(d.text);
        }
        line(t.rows[r]);
      }
      emit(csv);
      spdlog::info("text deid: {} rows, {} spans replaced -> {}", t.rows.size(), spans, o->out);
      return;
    }
    const auto in = read_text_input(o->input);
    if (!text::is_valid_utf8(in.text)) fail_invalid(in.name + ": not valid UTF-8 text");
    const auto d = text::deidentify(in.text, style);
    if (o->json) return emit(core::dump_json({{"text", d.text}, {"spans", deid_spans_json(d.spans)}}, 2) + "\n");
    emit(d.text);
  });
}

struct NoteColumns {
  std::string dialogue = "dialogue", section = "section_header", note = "section_text";
};

void add_note_column_options(CLI::App* cmd, NoteColumns& c) {
  cmd->add_option("--dialogue-col", c.dialogue)->capture_default_str();
  cmd->add_option("--section-col", c.section)->capture_default_str();
  cmd->add_option("--note-col", c.note)->capture_default_str();
}

// Every row of every file; fails naming the file, row and column on a missing column or empty,
// non-UTF-8 text.
std::vector<text::NoteExample> read_note_examples(const std::vector<fs::path>& files, const NoteColumns& c,
                                                  bool need_note) {
  std::vector<text::NoteExample> out;
  for (const auto& f : files) {
    const io::CsvTable t = io::read_csv(f);
    const size_t dc = t.column(c.dialogue), sc = t.column(c.section);
    const auto nc = need_note ? std::optional<size_t>(t.column(c.note)) : t.find_column(c.note);
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const std::string where = f.string() + " row " + std::to_string(r) + ", column '";
      text::check_text(t.rows[r][dc], where + c.dialogue + "'");
      const std::string section = text::normalise_whitespace(t.rows[r][sc]);
      if (section.empty()) fail_invalid(where + c.section + "': empty section");
      std::string note;
      if (nc) {
        if (need_note) text::check_text(t.rows[r][*nc], where + c.note + "'");
        note = t.rows[r][*nc];
      }
      out.push_back({t.rows[r][dc], section, std::move(note)});
    }
  }
  if (out.empty()) fail_invalid("no rows in the data file(s)");
  return out;
}

const char* kNoteLimits =
    "Research use: drafts one clinical-note section from a doctor-patient conversation for a clinician to "
    "edit. The draft is made of the conversation's own clauses (no text from other patients, nothing "
    "invented), so it reads like speech, can keep what the note would leave out and miss what was only "
    "implied; the section is a TF-IDF + logistic-regression guess. Trained on MTS-Dialog-style English "
    "conversations; not validated on real encounters. Never file a draft unreviewed.";

void add_note_train_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand("note-train", "learn to draft a note section from a doctor-patient dialogue");
  struct Opts {
    std::vector<fs::path> data;
    fs::path out, init;
    NoteColumns cols;
    uint64_t seed = 1;
    double c = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "CSV file(s) with dialogue, section and note columns (MTS-Dialog layout)")
      ->required();
  cmd->add_option("--out", o->out, "run folder to write")->required();
  cmd->add_option("--init", o->init, "pretrained encoder run (the transformer drafter is not built yet)");
  add_note_column_options(cmd, o->cols);
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_option("--c", o->c,
                  "section classifier's inverse regularisation (default: chosen from 1, 3, 10, 30 by 5-fold CV)")
      ->check(CLI::PositiveNumber);
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    if (!o->init.empty()) fail_unsupported("--init: the transformer note drafter is not built yet; run without it");
    const auto examples = read_note_examples(o->data, o->cols, true);
    text::NoteModel::FitReport report;
    const auto model = text::NoteModel::fit(examples, o->seed, &report, o->c);
    fs::create_directories(o->out);
    model.save(o->out / "note_model.bin");
    json curve = json::array(), cs = json::array();
    for (const auto& [c, r] : report.cutoff_rouge1) curve.push_back({{"cutoff", c}, {"rouge1", r}});
    for (const auto& [c, a] : report.c_accuracy) cs.push_back({{"c", c}, {"cv_section_accuracy", a}});
    json files = json::array(), section_cutoffs = json::object();
    for (const auto& f : o->data) files.push_back(f.filename().string());
    for (const auto& [name, cut] : report.section_cutoffs) section_cutoffs[name] = cut;
    core::write_file_atomic(
        o->out / "note_model.json",
        core::dump_json(
            {{"kind", "note_model"},
             {"method", "tfidf-lr section + extractive clause draft"},
             {"training_files", files},
             {"training_rows", examples.size()},
             {"sections", model.sections()},
             {"c", report.c},
             {"c_search", cs},
             {"cutoff", report.cutoff},
             {"cutoff_search", curve},
             {"out_of_fold_rouge1",
              {{"one_cutoff", report.rouge1_global_cutoff}, {"per_section_cutoffs", report.rouge1_section_cutoffs}}},
             {"section_cutoffs", section_cutoffs},
             {"intended_use_and_limits", kNoteLimits}},
            2));
    spdlog::info(
        "note-train: {} rows, {} sections; C {} (cross-validated section accuracy {:.3f}), clause cut-off {:.3f} -> {}",
        examples.size(), model.sections().size(), report.c,
        std::max_element(report.c_accuracy.begin(), report.c_accuracy.end(),
                         [](auto& a, auto& b) { return a.second < b.second; })
            ->second,
        report.cutoff, o->out.string());
  });
}

void add_note_eval_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand("note-eval", "section accuracy and ROUGE of the drafts on held-out dialogues");
  struct Opts {
    fs::path model, data;
    NoteColumns cols;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "run folder of text note-train")->required();
  cmd->add_option("--data", o->data, "CSV with dialogue, section and note columns")->required();
  add_note_column_options(cmd, o->cols);
  cmd->add_flag("--json", o->json, "print the figures as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto model = text::NoteModel::load(o->model / "note_model.bin");
    const auto examples = read_note_examples({o->data}, o->cols, true);
    double right = 0;
    metrics::RougeScores sum, copy, oracle;
    std::map<std::string, std::pair<int, int>> per_section;
    const auto add = [](metrics::RougeScores& a, const metrics::RougeScores& b) {
      a.rouge1 += b.rouge1, a.rouge2 += b.rouge2, a.rougeL += b.rougeL;
    };
    for (const auto& e : examples) {
      const auto d = model.predict(e.dialogue);
      const bool ok = d.section == e.section;
      right += ok;
      auto& ps = per_section[e.section];
      ps.first += ok;
      ++ps.second;
      add(sum, metrics::rouge(d.draft, e.note));
      add(copy, metrics::rouge(e.dialogue, e.note));
      add(oracle, metrics::rouge(model.draft(e.dialogue, e.section), e.note));
    }
    const double n = static_cast<double>(examples.size());
    const auto scores = [n](const metrics::RougeScores& s) {
      return json{{"rouge1", s.rouge1 / n}, {"rouge2", s.rouge2 / n}, {"rougeL", s.rougeL / n}};
    };
    json sections = json::object();
    for (const auto& [s, c] : per_section)
      sections[s] = {{"accuracy", static_cast<double>(c.first) / c.second}, {"n", c.second}};
    json j = {{"section_accuracy", right / n},
              {"rouge1", sum.rouge1 / n},
              {"rouge2", sum.rouge2 / n},
              {"rougeL", sum.rougeL / n},
              {"n", examples.size()},
              {"baseline_copy_dialogue", scores(copy)},
              {"draft_given_true_section", scores(oracle)},
              {"per_section", sections},
              {"rouge", "F1 on lower-cased [a-z0-9] tokens, no stemming; rougeL over the whole text"}};
    if (o->json) return print_json(j);
    std::printf(
        "n %zu: section accuracy %.3f; draft ROUGE-1 %.3f ROUGE-2 %.3f ROUGE-L %.3f (copying the dialogue: %.3f / %.3f "
        "/ %.3f)\n",
        examples.size(), right / n, sum.rouge1 / n, sum.rouge2 / n, sum.rougeL / n, copy.rouge1 / n, copy.rouge2 / n,
        copy.rougeL / n);
  });
}

void add_note_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand("note", "draft the note section of one dialogue (a file or standard input)");
  struct Opts {
    fs::path model;
    std::string input = "-";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "run folder of text note-train")->required();
  cmd->add_option("--input", o->input, "dialogue text, one 'Speaker: text' turn per line ('-': standard input)")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print section, probabilities and draft as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto model = text::NoteModel::load(o->model / "note_model.bin");
    const auto in = read_text_input(o->input);
    text::check_text(in.text, in.name);
    const auto d = model.predict(in.text);
    if (o->json) {
      json top = json::array();
      for (const auto& [s, p] : d.top) top.push_back({{"section", s}, {"probability", p}});
      return print_json({{"section", d.section},
                         {"probability", d.probability},
                         {"top_sections", top},
                         {"draft", d.draft},
                         {"limits", kNoteLimits}});
    }
    std::printf("%s (p %.2f)\n%s\n", d.section.c_str(), d.probability, d.draft.c_str());
  });
}

}  // namespace

void add_text_note_commands(CLI::App* text, GlobalOptions& g) {
  add_deid_command(text, g);
  add_note_train_command(text, g);
  add_note_eval_command(text, g);
  add_note_command(text, g);
}

}  // namespace medai::app
