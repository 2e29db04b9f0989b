// medai text split | index | ask | retrieval-eval | cv | train | predict (deid and the note commands:
// text_note_commands.cpp; embed: text_model_commands.cpp)
#include <spdlog/spdlog.h>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/data/row_splits.h"
#include "medai/io/csv.h"
#include "medai/text/dense_retrieval.h"
#include "medai/text/retrieval.h"
#include "medai/text/text_classification.h"
#include "medai/text/text_util.h"
#include "medai/text/transformer_classifier.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void add_split_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd =
      text->add_subcommand("split", "write a grouped (and optionally stratified) row,split or row,fold file for a CSV");
  struct Opts {
    fs::path data, out;
    std::string group_col, stratify_col;
    int folds = 0;
    double valid = 0.0, test = 0.2;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "data CSV")->required();
  cmd->add_option("--out", o->out, "split file to write")->required();
  cmd->add_option(
      "--group-col", o->group_col,
      "rows with the same (whitespace-normalised) value stay on one side, e.g. question or the text itself");
  cmd->add_option("--stratify-col", o->stratify_col, "spread each value of this column evenly");
  cmd->add_option("--folds", o->folds, "write row,fold with this many folds instead of row,split");
  cmd->add_option("--valid-fraction", o->valid)->capture_default_str();
  cmd->add_option("--test-fraction", o->test)->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    const io::CsvTable t = io::read_csv(o->data);
    data::RowSplitRequest q;
    constexpr size_t kNone = static_cast<size_t>(-1);
    const size_t gc = o->group_col.empty() ? kNone : t.column(o->group_col);
    const size_t sc = o->stratify_col.empty() ? kNone : t.column(o->stratify_col);
    for (size_t r = 0; r < t.rows.size(); ++r) {
      q.groups.push_back(gc != kNone ? text::normalise_whitespace(t.rows[r][gc]) : std::to_string(r));
      if (sc != kNone) q.strata.push_back(t.rows[r][sc]);
    }
    q.folds = o->folds;
    q.valid_fraction = o->valid;
    q.test_fraction = o->test;
    q.seed = o->seed;
    const auto s = data::make_row_splits(q);
    data::write_row_splits(s, o->out);
    std::printf("%s: %zu rows in %s\n", o->out.string().c_str(), t.rows.size(),
                s.folds ? (std::to_string(s.fold_count()) + " folds").c_str() : "train/valid/test");
  });
}

void add_qa_columns(CLI::App* cmd, text::QaColumns& c) {
  cmd->add_option("--question-col", c.question)->capture_default_str();
  cmd->add_option("--answer-col", c.answer)->capture_default_str();
  cmd->add_option("--url-col", c.url, "source of each answer (optional column)")->capture_default_str();
  cmd->add_option("--focus-col", c.focus, "topic of each answer (optional column)")->capture_default_str();
}

void add_retrieval_eval_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand("retrieval-eval",
                                   "hits@1, hits@10 and MRR of answer retrieval on the test questions of a split");
  struct Opts {
    fs::path data, splits, init;
    text::QaColumns columns;
    std::string method = "auto", type_col = "qtype";
    uint64_t seed = 1;
    bool json = false;
    text::DenseOptions dense;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "CSV of questions and answers (MedQuAD layout)")->required();
  cmd->add_option("--splits", o->splits,
                  "row,split file: test rows are the questions; every listed answered row is in the pool")
      ->required();
  cmd->add_option("--init", o->init,
                  "fine-tune this encoder (a text pretrain run or a Hugging Face BERT folder) as a dense bi-encoder on "
                  "the training questions and fuse it with the sparse ranker");
  cmd->add_option("--dense-epochs", o->dense.epochs, "bi-encoder fine-tuning epochs (with --init)")
      ->capture_default_str();
  cmd->add_option("--dense-batch", o->dense.batch_size, "bi-encoder batch: the in-batch negatives (with --init)")
      ->capture_default_str();
  cmd->add_option("--answer-length", o->dense.answer_length, "answer tokens the bi-encoder reads (with --init)")
      ->capture_default_str();
  add_precision_option(cmd, o->dense.precision);
  add_qa_columns(cmd, o->columns);
  cmd->add_flag("--json", o->json, "print the figures as JSON");
  cmd->add_option(
         "--method", o->method,
         "auto: hybrid when the type column exists, else bm25 | bm25 | hybrid: BM25 + an answer-type prior learned "
         "on the training rows")
      ->check(CLI::IsMember({"auto", "bm25", "hybrid"}))
      ->capture_default_str();
  cmd->add_option("--type-col", o->type_col, "question type of each row (hybrid)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the hybrid's weight-tuning split")->capture_default_str();
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const io::CsvTable t = io::read_csv(o->data);
    const auto splits = data::read_row_splits(o->splits, t.rows.size());
    const text::QaCorpus corpus = text::build_qa_corpus(t, o->columns, &splits);
    const text::Bm25Index bm25 = text::pool_bm25(corpus.pool);
    const auto base = text::evaluate_retrieval(
        corpus, [&](const std::string& q) { return bm25.scores(q); }, data::RowSplits::kTest);
    if (base.n == 0) fail_invalid(o->splits.string() + ": no test row has an answer");
    const auto as_json = [](const metrics::RetrievalMetrics& m) {
      return json{{"hits_at_1", m.hits_at_1}, {"hits_at_10", m.hits_at_10}, {"mrr", m.mrr}, {"n_questions", m.n}};
    };
    std::string method = o->method;
    if (method == "auto") method = t.find_column(o->type_col) ? "hybrid" : "bm25";
    json j = as_json(base);
    j["method"] = "bm25";
    text::AnswerScorer sparse = [&](const std::string& q) { return bm25.scores(q); };
    if (method == "hybrid") {
      const auto h = text::evaluate_hybrid_retrieval(t, o->columns, o->type_col, splits, corpus, bm25, o->seed);
      j = as_json(h.metrics);
      j["method"] = "hybrid";
      j["type_weight"] = h.weight;
      j["type_weight_tuning_mrr"] = h.weight_mrr;
      j["baseline_bm25"] = as_json(base);
      sparse = [&bm25, scorer = h.scorer](const std::string& q) { return scorer->scores(bm25, q); };
    }
    if (!o->init.empty()) {
      o->dense.progress = !g.quiet && !o->json;
      o->dense.seed = static_cast<int64_t>(o->seed);
      const auto d = text::evaluate_dense_retrieval(o->init, corpus, sparse, o->dense, o->seed + 1);
      json sparse_j = j;
      sparse_j.erase("baseline_bm25");
      j = as_json(d.fused);
      j["method"] = method + "+dense";
      j["dense_weight"] = d.weight;
      j["dense_weight_tuning_mrr"] = d.weight_mrr;
      j["dense_only"] = as_json(d.dense);
      j["sparse"] = sparse_j;
      j["baseline_bm25"] = as_json(base);
      j["init"] = o->init.filename().string();
      j["dense_training"] = {{"pairs", d.training_pairs},
                             {"tuning_questions", d.tuning_questions},
                             {"seconds_training", d.seconds_training},
                             {"seconds_encoding_pool", d.seconds_encoding}};
      method = j["method"];
    }
    j["pool"] = corpus.pool.size();
    if (o->json) return print_json(j);
    std::printf("%s on %zu test questions, pool %zu answers: hits@1 %.3f, hits@10 %.3f, MRR %.3f\n", method.c_str(),
                base.n, corpus.pool.size(), j["hits_at_1"].get<double>(), j["hits_at_10"].get<double>(),
                j["mrr"].get<double>());
    if (method != "bm25")
      std::printf("BM25 on the same questions: hits@1 %.3f, hits@10 %.3f, MRR %.3f\n", base.hits_at_1, base.hits_at_10,
                  base.mrr);
  });
}

void add_index_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd =
      text->add_subcommand("index", "build a persisted answer index (BM25 + a calibrated confidence) from a Q&A CSV");
  struct Opts {
    fs::path data, out, splits;
    text::QaColumns columns;
    std::string type_col = "qtype";
    size_t calibration = 2000;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "CSV of questions and answers (MedQuAD layout)")->required();
  cmd->add_option("--out", o->out, "index folder to write")->required();
  cmd->add_option("--splits", o->splits, "row,split file: only the listed rows are indexed");
  cmd->add_option(
         "--type-col", o->type_col,
         "question type of each row: when the column exists the index learns the answer-type prior (hybrid ranking)")
      ->capture_default_str();
  cmd->add_option("--calibration-questions", o->calibration, "questions sampled to fit the answer confidence")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  add_qa_columns(cmd, o->columns);
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    const io::CsvTable t = io::read_csv(o->data);
    std::optional<data::RowSplits> splits;
    if (!o->splits.empty()) splits = data::read_row_splits(o->splits, t.rows.size());
    const data::RowSplits* used = splits ? &*splits : nullptr;
    auto corpus = text::build_qa_corpus(t, o->columns, used);
    std::optional<text::QaTypedRows> typed;
    // Every indexed row trains the type models: the index is the deployed knowledge base.
    if (t.find_column(o->type_col))
      typed = text::qa_typed_rows(t, o->columns, o->type_col, used, data::RowSplits::kUnused);
    const auto ix = text::AnswerIndex::build(std::move(corpus), {}, o->calibration, o->seed, typed ? &*typed : nullptr);
    ix.save(o->out);
    const auto& c = ix.calibration();
    std::printf(
        "answer index written to %s: %zu answers; on %d calibration questions the top answer is right %.3f of the "
        "time, "
        "%.3f are answered at confidence 0.5 with precision %.3f\n",
        o->out.string().c_str(), ix.size(), c.value("questions", 0), c.value("top1_correct", 0.0),
        c.value("answered_at_0.5", 0.0), c.value("precision_when_answered_at_0.5", 0.0));
    if (c.value("questions", 0) < 200)
      spdlog::warn(
          "only {} questions fitted the answer confidence: expect it to be over-confident (index a "
          "collection with at least a few hundred questions)",
          c.value("questions", 0));
  });
}

void add_ask_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand("ask", "the best answers to a question from an answer index, with sources");
  struct Opts {
    fs::path index;
    std::string question;
    size_t top = 3;
    double min_confidence = 0.5, min_coverage = text::AnswerIndex::kDefaultMinCoverage;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--index", o->index, "answer index folder (text index)")->required();
  cmd->add_option("--min-coverage", o->min_coverage,
                  "no trusted answer when the best one holds less than this share of the question's terms")
      ->capture_default_str();
  cmd->add_option("question", o->question, "the question")->required();
  cmd->add_option("--top", o->top, "answers to show")->capture_default_str();
  cmd->add_option("--min-confidence", o->min_confidence, "below this confidence of the top answer: no trusted answer")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print the answers as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    text::check_text(o->question, "question");
    const auto ix = text::AnswerIndex::load(o->index);
    const auto hits = ix.ask(o->question, o->top, o->min_coverage);
    const double confidence = hits.empty() ? 0.0 : hits[0].confidence;
    const bool trusted = confidence >= o->min_confidence;
    json answers = json::array();
    for (const auto& h : hits) {
      const auto& a = ix.answer(h.index);
      answers.push_back(
          {{"answer", a.text}, {"url", a.url}, {"focus", a.focus}, {"score", h.score}, {"coverage", h.coverage}});
    }
    if (o->json)
      return print_json({{"trusted", trusted},
                         {"confidence", confidence},
                         {"answers", trusted ? answers : json::array()},
                         {"candidates", answers},
                         {"message", trusted ? "" : "no trusted answer found"}});
    if (!trusted) {
      if (!hits.empty() && hits[0].coverage < o->min_coverage)
        std::printf("no trusted answer found (the best match holds %.0f%% of the question's terms, < %.0f%%)\n",
                    100 * hits[0].coverage, 100 * o->min_coverage);
      else
        std::printf("no trusted answer found (confidence of the best match %.2f < %.2f)\n", confidence,
                    o->min_confidence);
      return;
    }
    std::printf("confidence %.2f\n", confidence);
    for (size_t i = 0; i < hits.size(); ++i) {
      const auto& a = ix.answer(hits[i].index);
      std::printf("\n%zu. [%s] score %.2f\n   source: %s\n   %s\n", i + 1, a.focus.c_str(), hits[i].score,
                  a.url.c_str(), a.text.substr(0, 600).c_str());
    }
  });
}

// The fine-tuning settings of text train / cv --init.
void add_fine_tune_options(CLI::App* cmd, text::FineTuneOptions& f) {
  cmd->add_option("--epochs", f.epochs, "fine-tuning epochs (with --init)")->capture_default_str();
  cmd->add_option("--batch", f.batch_size, "fine-tuning batch (with --init)")->capture_default_str();
  cmd->add_option("--max-length", f.max_length, "tokens per text, [CLS] and [SEP] included (with --init)")
      ->capture_default_str();
  cmd->add_option("--lr", f.lr, "peak fine-tuning learning rate (with --init)")->capture_default_str();
  cmd->add_option("--seed", f.seed)->capture_default_str();
  add_precision_option(cmd, f.precision);
}

const char* kTransformerLimits =
    "Research use: a transformer encoder fine-tuned on the training rows. It reads word order and context "
    "but only the first max_length tokens of a text, and is only as good as the figures on its validation "
    "rows; texts unlike the training data get confident but meaningless labels.";

const char* kClassifierLimits =
    "Research use: a bag-of-words (TF-IDF 1-2 grams) + logistic-regression text classifier. It sees which "
    "words occur, not what the text says (negation, who has the condition, time), and is only as good as "
    "the figures on its validation rows; texts unlike the training data get confident but meaningless labels.";

void add_train_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand(
      "train", "train a text classifier from a CSV: TF-IDF + logistic regression, or a transformer with --init");
  struct Opts {
    fs::path data, out, splits, init;
    std::string text_col, label_col;
    text::FineTuneOptions fine_tune;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "CSV with a text and a label column")->required();
  cmd->add_option("--text-col", o->text_col)->required();
  cmd->add_option("--label-col", o->label_col)->required();
  cmd->add_option("--out", o->out, "run folder to write")->required();
  cmd->add_option("--splits", o->splits, "row,split file: fit on train, report on valid; test rows are never read");
  cmd->add_option("--init", o->init,
                  "fine-tune this encoder (a text pretrain run or a Hugging Face BERT folder) instead of TF-IDF + LR");
  add_fine_tune_options(cmd, o->fine_tune);
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet});
    const io::CsvTable t = io::read_csv(o->data);
    std::optional<data::RowSplits> splits;
    if (!o->splits.empty()) {
      splits = data::read_row_splits(o->splits, t.rows.size());
      if (splits->folds) fail_invalid(o->splits.string() + ": text train needs a row,split file, not folds");
    }
    // Only train (and valid) rows are read: test rows stay unseen.
    data::RowSplits used;
    if (splits) {
      used = *splits;
      for (int& a : used.assignment)
        if (a == data::RowSplits::kTest) a = data::RowSplits::kUnused;
    }
    const auto all = text::read_labelled_texts(t, o->text_col, o->label_col, splits ? &used : nullptr);
    std::vector<std::string> texts, valid_texts;
    std::vector<int> labels, valid_labels;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      if (all.labels[r] < 0) continue;
      const bool valid = splits && splits->assignment[r] == data::RowSplits::kValid;
      (valid ? valid_texts : texts).push_back(all.texts[r]);
      (valid ? valid_labels : labels).push_back(all.labels[r]);
    }
    if (texts.empty()) fail_invalid(o->data.string() + ": no training rows");
    fs::create_directories(o->out);
    json card = {{"kind", "text_classifier"},
                 {"classes", all.classes},
                 {"training_rows", texts.size()},
                 {"text_column", o->text_col},
                 {"label_column", o->label_col}};
    std::vector<std::vector<double>> valid_p;
    if (o->init.empty()) {
      const auto model = text::TfidfTextClassifier::fit(texts, labels, all.classes);
      model.save(o->out / "text_classifier.bin");
      for (const auto& v : valid_texts) valid_p.push_back(model.probabilities(v));
      card["method"] = "tfidf-lr";
      card["intended_use_and_limits"] = kClassifierLimits;
    } else {
      o->fine_tune.progress = !g.quiet;
      const auto model = text::TransformerTextClassifier::fine_tune(o->init, texts, labels, all.classes, o->fine_tune,
                                                                    valid_texts, valid_labels);
      model.save(o->out);
      valid_p = model.probabilities(valid_texts);
      card["method"] = "transformer";
      card["architecture"] = model.description();
      card["init"] = o->init.filename().string();
      card["fine_tuning"] = {{"epochs", o->fine_tune.epochs},
                             {"batch", o->fine_tune.batch_size},
                             {"max_length", o->fine_tune.max_length},
                             {"lr", o->fine_tune.lr},
                             {"seed", o->fine_tune.seed},
                             {"selection", valid_texts.empty() ? "last epoch" : "best validation macro-F1"}};
      card["intended_use_and_limits"] = kTransformerLimits;
    }
    if (!valid_texts.empty()) {
      std::vector<int> predicted;
      for (const auto& p : valid_p)
        predicted.push_back(static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()));
      const auto m = metrics::multiclass_metrics(valid_labels, predicted, static_cast<int>(all.classes.size()));
      card["validation"] = {{"macro_f1", m.macro_f1}, {"accuracy", m.accuracy}, {"n", m.n}};
      spdlog::info("text train: validation macro-F1 {:.3f}, accuracy {:.3f} (n {})", m.macro_f1, m.accuracy, m.n);
    }
    core::write_file_atomic(o->out / "model.json", core::dump_json(card, 2) + "\n");
    spdlog::info("text train: {} rows, {} classes -> {}", texts.size(), all.classes.size(), o->out.string());
  });
}

void add_predict_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand("predict", "labels of texts (a CSV column or one text) from a text train run");
  struct Opts {
    fs::path model, data, out;
    std::string text_col, text;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "run folder of text train")->required();
  cmd->add_option("--data", o->data, "CSV of texts to label");
  cmd->add_option("--text-col", o->text_col, "column of --data");
  cmd->add_option("--out", o->out, "CSV to write: row, label, probability, one column per class");
  cmd->add_option("text", o->text, "one text to label (instead of --data)");
  cmd->add_flag("--json", o->json, "one text: print the label and the probabilities as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto model = text::TextClassifierModel::load(o->model);
    const auto& classes = model.classes();
    if (o->data.empty()) {
      if (o->text.empty()) fail_invalid("give a text, or --data CSV --text-col C --out CSV");
      text::check_text(o->text, "text");
      const auto p = model.probabilities(o->text);
      const size_t best = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      json probs = json::object();
      for (size_t c = 0; c < classes.size(); ++c) probs[classes[c]] = p[c];
      if (o->json) return print_json({{"label", classes[best]}, {"probability", p[best]}, {"probabilities", probs}});
      std::printf("%s (p %.2f)\n", classes[best].c_str(), p[best]);
      return;
    }
    if (o->text_col.empty() || o->out.empty()) fail_invalid("--data needs --text-col and --out");
    const io::CsvTable t = io::read_csv(o->data);
    const size_t col = t.column(o->text_col);
    std::string csv = "row,label,probability";
    for (const auto& c : classes) {
      csv += ',';
      csv += io::csv_escape("p_" + c);
    }
    csv += "\n";
    std::vector<std::string> texts;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      text::check_text(t.rows[r][col],
                       o->data.string() + " row " + std::to_string(r) + ", column '" + o->text_col + "'");
      texts.push_back(t.rows[r][col]);
    }
    const auto probabilities = model.probabilities(texts);
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto& p = probabilities[r];
      const size_t best = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      csv += std::to_string(r);
      csv += ',';
      csv += io::csv_escape(classes[best]);
      csv += ',' + std::to_string(p[best]);
      for (double v : p) csv += ',' + std::to_string(v);
      csv += "\n";
    }
    core::write_file_atomic(o->out, csv);
    spdlog::info("text predict: {} rows -> {}", t.rows.size(), o->out.string());
  });
}

void add_cv_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd =
      text->add_subcommand("cv", "pooled out-of-fold macro-F1 and accuracy of a text classifier over a fold file");
  struct Opts {
    fs::path data, folds, init;
    std::string text_col, label_col, method = "tfidf-lr";
    bool json = false;
    text::FineTuneOptions fine_tune;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->data, "CSV with a text and a label column")->required();
  cmd->add_option("--text-col", o->text_col)->required();
  cmd->add_option("--label-col", o->label_col)->required();
  cmd->add_option("--folds", o->folds, "row,fold file")->required();
  cmd->add_option("--init", o->init,
                  "fine-tune this encoder (a text pretrain run or a Hugging Face BERT folder) in every fold; the "
                  "TF-IDF + LR baseline is reported beside it on the same folds");
  cmd->add_option("--method", o->method, "tfidf-lr: TF-IDF 1-2 grams + balanced logistic regression (without --init)")
      ->check(CLI::IsMember({"tfidf-lr"}))
      ->capture_default_str();
  add_fine_tune_options(cmd, o->fine_tune);
  cmd->add_flag("--json", o->json, "print the figures as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const io::CsvTable t = io::read_csv(o->data);
    const auto folds = data::read_row_splits(o->folds, t.rows.size());
    const auto texts = text::read_labelled_texts(t, o->text_col, o->label_col, &folds);
    const auto baseline = text::cross_validate(texts, folds, text::tfidf_logistic_factory());
    json j = text::cv_json(baseline, texts.classes);
    j["method"] = "tfidf-lr";
    text::CvReport report = baseline;
    if (!o->init.empty()) {
      o->fine_tune.progress = !g.quiet && !o->json;
      report = text::cross_validate(texts, folds, text::transformer_classifier_factory(o->init, o->fine_tune));
      json baseline_j = {{"method", "tfidf-lr"},
                         {"macro_f1", j["macro_f1"]},
                         {"accuracy", j["accuracy"]},
                         {"macro_f1_ci95", j["macro_f1_ci95"]},
                         {"accuracy_ci95", j["accuracy_ci95"]}};
      j = text::cv_json(report, texts.classes);
      j["method"] = "transformer";
      j["init"] = o->init.filename().string();
      j["baseline"] = baseline_j;
    }
    if (o->json) return print_json(j);
    const auto line = [&](const std::string& method, const text::CvReport& r) {
      std::printf("%s, %zu folds, n %zu: macro-F1 %.3f (95%% CI %.3f-%.3f), accuracy %.3f (%.3f-%.3f)\n",
                  method.c_str(), r.fold_macro_f1.size(), r.pooled.n, r.pooled.macro_f1, r.macro_f1_lower,
                  r.macro_f1_upper, r.pooled.accuracy, r.accuracy_lower, r.accuracy_upper);
    };
    line(j["method"].get<std::string>(), report);
    for (size_t c = 0; c < texts.classes.size(); ++c) {
      const auto& s = report.pooled.per_class[c];
      std::printf("  %-24s precision %.3f recall %.3f F1 %.3f support %lld\n", texts.classes[c].c_str(), s.precision,
                  s.recall, s.f1, static_cast<long long>(s.support));
    }
    if (!o->init.empty()) line("baseline tfidf-lr", baseline);
  });
}

}  // namespace

void print_json(const nlohmann::json& j) { std::printf("%s\n", core::dump_json(j, 2).c_str()); }

TextInput read_text_input(const std::string& input) {
  if (input == "-") return {std::string(std::istreambuf_iterator<char>(std::cin), {}), "standard input"};
  return {core::read_file(input), input};
}

void add_text_commands(CLI::App& app, GlobalOptions& g) {
  auto* text = app.add_subcommand(
      "text", "clinical text: splits, answer retrieval with sources, classification, de-identification");
  text->require_subcommand(1);
  add_split_command(text, g);
  add_index_command(text, g);
  add_ask_command(text, g);
  add_retrieval_eval_command(text, g);
  add_cv_command(text, g);
  add_train_command(text, g);
  add_predict_command(text, g);
  add_text_note_commands(text, g);
  add_text_model_commands(text, g);
}

}  // namespace medai::app
