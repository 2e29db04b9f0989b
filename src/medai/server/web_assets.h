#pragma once
// The web app and the OpenAPI document, compiled in (server/web/*), so the server needs no files.
#include <string>

namespace medai::server {
const std::string& web_index_html();
const std::string& web_app_js();
const std::string& openapi_json();
}  // namespace medai::server
