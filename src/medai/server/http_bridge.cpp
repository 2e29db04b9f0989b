// The only file that includes cpp-httplib (ARCHITECTURE.md).
#include "medai/server/http_bridge.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <thread>

#include "medai/core/error.h"

namespace medai::server {

namespace fs = std::filesystem;

namespace {

// httplib hands each connection to one task for its whole life, so a fixed pool of N threads
// is starved by N idle or slow clients. This queue grows a thread per waiting connection up to
// `max_threads` (then queues), and keeps `min_threads` warm.
class ElasticPool : public httplib::TaskQueue {
 public:
  ElasticPool(size_t min_threads, size_t max_threads) : min_(min_threads), max_(std::max(min_threads, max_threads)) {
    std::lock_guard l(mu_);
    for (size_t i = 0; i < min_; ++i) spawn();
  }
  ~ElasticPool() override { shutdown(); }
  void enqueue(std::function<void()> fn) override {
    std::lock_guard l(mu_);
    jobs_.push_back(std::move(fn));
    if (idle_ < jobs_.size() && threads_.size() < max_) spawn();
    cv_.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard l(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void spawn() {
    threads_.emplace_back([this] { work(); });
  }
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock l(mu_);
        ++idle_;
        cv_.wait(l, [&] { return stop_ || !jobs_.empty(); });
        --idle_;
        if (jobs_.empty()) return;  // stopping, nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }
  size_t min_, max_, idle_ = 0;
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
};

Request convert(const httplib::Request& in) {
  Request r;
  r.method = in.method;
  r.path = in.path;
  for (size_t i = 0; i < in.matches.size(); ++i) r.matches.push_back(in.matches[i].str());
  for (const auto& [k, v] : in.params) r.params.emplace(k, v);
  for (const auto& [k, v] : in.headers) {
    std::string key = k;
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    r.headers.emplace(std::move(key), v);
  }
  r.body = in.body;
  return r;
}

void write_back(const Response& in, httplib::Response& out) {
  out.status = in.status;
  for (const auto& [k, v] : in.headers) out.set_header(k, v);
  out.set_content(in.body, in.content_type);
}

void json_error(httplib::Response& res, ErrorCode code, const std::string& message) {
  Response r;
  send_error(r, code, message);
  write_back(r, res);
}

}  // namespace

struct HttpBridge::Impl {
  ServerContext& ctx;
  std::vector<Route> routes;
  std::unique_ptr<httplib::Server> svr;
  int listen_fd = -1;
};

HttpBridge::HttpBridge(ServerContext& ctx, std::vector<Route> routes)
    : impl_(new Impl{ctx, std::move(routes), nullptr}) {
  const ServerOptions& o = ctx.options;
  if (!o.tls_cert.empty() || !o.tls_key.empty()) {
    if (o.tls_cert.empty() || o.tls_key.empty()) fail_invalid("the TLS certificate and key go together");
    if (!fs::exists(o.tls_cert)) fail_not_found(o.tls_cert.string() + ": no such certificate file");
    if (!fs::exists(o.tls_key)) fail_not_found(o.tls_key.string() + ": no such key file");
    auto ssl = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!ssl->is_valid()) fail_invalid(o.tls_cert.string() + ": certificate/key could not be used");
    impl_->svr = std::move(ssl);
  } else {
    impl_->svr = std::make_unique<httplib::Server>();
  }
  httplib::Server& svr = *impl_->svr;
  const size_t min_threads = static_cast<size_t>(std::max(2, o.threads));
  const size_t max_threads = std::max(min_threads, static_cast<size_t>(o.max_connections));
  svr.new_task_queue = [min_threads, max_threads] { return new ElasticPool(min_threads, max_threads); };
  svr.set_payload_max_length(o.max_body_bytes);
  svr.set_read_timeout(o.timeout_s, 0);
  svr.set_write_timeout(o.timeout_s, 0);
  svr.set_keep_alive_timeout(5);
  svr.set_keep_alive_max_count(1000);  // httplib closes after 5 requests by default (nginx: 1000)
  // httplib writes the headers and the body separately: with Nagle's algorithm the body then waits
  // for the client's delayed ACK, ~40 ms on every keep-alive request.
  svr.set_tcp_nodelay(true);
  svr.set_socket_options([impl = impl_.get()](int sock) {
    httplib::default_socket_options(sock);
    impl->listen_fd = sock;  // the last socket tried is the one that binds
  });
  for (const Route& route : impl_->routes) {
    auto h = [this, &route](const httplib::Request& in, httplib::Response& out) {
      Request req = convert(in);
      Response res;
      handle(impl_->ctx, route, req, res);
      write_back(res, out);
    };
    if (route.method == "GET") svr.Get(route.pattern, h);
    else svr.Post(route.pattern, h);
  }
  // httplib's own answers (no route, body too large, malformed request) as JSON errors.
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 404: json_error(res, ErrorCode::NotFound, "no such route"); break;
      case 413: json_error(res, ErrorCode::PayloadTooLarge, "request body too large"); break;
      case 400: json_error(res, ErrorCode::InvalidInput, "malformed request (a POST needs a Content-Length)"); break;
      default: {
        const int st = res.status;
        json_error(res, ErrorCode::InvalidInput, "request failed");
        res.status = st;
      }
    }
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    json_error(res, ErrorCode::Internal, "internal error");
  });
}

HttpBridge::~HttpBridge() = default;

int HttpBridge::bind() {
  const ServerOptions& o = impl_->ctx.options;
  int port = o.port;
  if (port == 0) port = impl_->svr->bind_to_any_port(o.host);
  else if (!impl_->svr->bind_to_port(o.host, port)) port = -1;
  if (port <= 0) fail_io("cannot listen on " + o.host + ":" + std::to_string(o.port));
  // Debian's compiled httplib listens with a backlog of 5, which drops the SYNs of a burst of new
  // connections (their clients retry a second later). listen() again only enlarges the queue; the
  // kernel caps it at net.core.somaxconn.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  return port;
}

void HttpBridge::listen() { impl_->svr->listen_after_bind(); }

void HttpBridge::stop() { impl_->svr->stop(); }

}  // namespace medai::server
