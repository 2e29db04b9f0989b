#pragma once
// One list of a trainer's settings, both ways: written into train_state.json when a run starts
// and read back on --resume (the stored settings win over the command line). A pipeline writes
//   template <class F> void fields(F& f, Options& o) { f("lr", o.lr)("hidden", o.hidden); }
// and calls fields(StoreOptions{j}, o) / fields(LoadOptions{j, where}, o). Included only from .cpp
// files (it needs the whole of nlohmann/json).
#include <nlohmann/json.hpp>
#include <string>

#include "medai/core/error.h"

namespace medai::train {

struct StoreOptions {
  nlohmann::json& out;
  template <class T>
  StoreOptions& operator()(const char* name, const T& value) {
    out[name] = value;
    return *this;
  }
};

struct LoadOptions {
  const nlohmann::json& in;
  std::string where;  // the state file, for errors
  template <class T>
  LoadOptions& operator()(const char* name, T& value) {
    auto it = in.find(name);
    if (it == in.end()) fail_invalid(where + ": stored options have no '" + name + "'");
    try {
      value = it->get<T>();
    } catch (const nlohmann::json::exception&) {
      fail_invalid(where + ": stored option '" + std::string(name) + "' has the wrong type");
    }
    return *this;
  }
};

}  // namespace medai::train
