#pragma once
// The bridge to cpp-httplib: the only code that includes it. It turns each Route into an httplib
// handler that converts the request, runs the middleware (handle(): authentication, errors,
// metrics) and writes the answer back; httplib's own failures (413, malformed requests, unknown
// routes) become JSON errors from the same ErrorCode table.
#include <memory>
#include <vector>

#include "medai/server/api.h"

namespace medai::server {

class HttpBridge {
 public:
  HttpBridge(ServerContext& ctx, std::vector<Route> routes);
  ~HttpBridge();
  int bind();     // listens on options.host:options.port (0 = any free port); returns the port
  void listen();  // serves until stop()
  void stop();    // no new connections; requests in flight finish

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medai::server
