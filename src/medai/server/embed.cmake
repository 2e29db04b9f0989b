# Turns server/web/* into web_assets.cpp (raw string literals) at build time.
file(READ "${SRC}/web/index.html" INDEX)
file(READ "${SRC}/web/app.js" APPJS)
file(READ "${SRC}/web/openapi.json" OPENAPI)
string(REPLACE "@MEDAI_VERSION@" "${VERSION}" OPENAPI "${OPENAPI}")
file(WRITE "${OUT}" "// Generated from src/medai/server/web by embed.cmake; do not edit.\n#include \"medai/server/web_assets.h\"\nnamespace medai::server {\nconst std::string& web_index_html() { static const std::string s = R\"medai_web(${INDEX})medai_web\"; return s; }\nconst std::string& web_app_js() { static const std::string s = R\"medai_web(${APPJS})medai_web\"; return s; }\nconst std::string& openapi_json() { static const std::string s = R\"medai_web(${OPENAPI})medai_web\"; return s; }\n}\n")
