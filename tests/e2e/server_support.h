#pragma once
// A `medai serve` started by a test (port 0, the test's folder), curl calls against it, tokens, and
// the tiny text models the text routes and the browser test serve.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>

#include "support/test_support.h"

namespace medai::test {

class Server {
 public:
  Server(const std::filesystem::path& dir, const std::string& extra = "") : dir_(dir) {
    std::filesystem::remove(dir / "serve.log");  // a previous server's log would give its (dead) port
    auto r = run_command(medai_bin() + " serve --port 0 --models " + quote(dir / "models") + " --db " +
                         quote(dir / "medai.db") + " " + extra + " > " + quote(dir / "serve.log") + " 2>&1 & echo $!");
    pid_ = std::stoi(r.out);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = read_text(dir / "serve.log");
      const auto p = log.find("listening on port ");
      if (p != std::string::npos) {
        port_ = std::stoi(log.substr(p + 18));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "server did not start: " << read_text(dir / "serve.log");
  }
  ~Server() { stop(); }
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {  // the server is not our child (started through a shell): poll
      if (::kill(pid_, 0) != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const bool gone = ::kill(pid_, 0) != 0;
    if (!gone) ::kill(pid_, SIGKILL);
    pid_ = -1;
    return gone ? status : -1;
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    for (int i = 0; i < 100 && ::kill(pid_, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pid_ = -1;
  }
  // curl: returns (status, body).
  std::pair<int, std::string> call(const std::string& method, const std::string& path, const std::string& token = "",
                                   const std::string& data_file = "", const std::string& type = "") const {
    std::string cmd = "curl -s -o " + quote(dir_ / "body.out") + " -w '%{http_code}' -X " + method;
    if (!token.empty()) cmd += " -H 'Authorization: Bearer " + token + "'";
    if (!type.empty()) cmd += " -H 'Content-Type: " + type + "'";
    if (!data_file.empty()) cmd += " --data-binary @" + quote(data_file);
    else if (method == "POST") cmd += " -d ''";
    cmd += " 'http://127.0.0.1:" + std::to_string(port_) + path + "'";
    auto r = run_command(cmd);
    return {std::atoi(r.out.c_str()), std::filesystem::exists(dir_ / "body.out") ? read_text(dir_ / "body.out") : ""};
  }
  int port() const { return port_; }

 private:
  std::filesystem::path dir_;
  int pid_ = -1, port_ = 0;
};

inline std::string token(const std::filesystem::path& dir, const std::string& role) {
  auto r = run_medai("token create --role " + role + " --db " + quote(dir / "medai.db"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

// A tiny answer index (ix/), note model (note/) and text classifier (cls/) trained into `dir` by the
// CLI; returns the serve flags that load them (server_text_test.cpp).
std::string train_text_models(const std::filesystem::path& dir);

}  // namespace medai::test
