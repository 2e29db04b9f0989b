# Shared build settings for medai targets.

# Sanitizers (MEDAI_SANITIZE) and fuzzing instrumentation (MEDAI_FUZZ) apply to every target the
# project builds; third-party libraries stay as Debian ships them.
if(MEDAI_SANITIZE)
  # vptr checks misfire across libtorch's uninstrumented RTTI; every other UB report is fatal.
  set(_san -fsanitize=${MEDAI_SANITIZE} -fno-omit-frame-pointer)
  if(MEDAI_SANITIZE MATCHES "undefined")
    list(APPEND _san -fno-sanitize=vptr -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${_san})
  add_link_options(${_san})
endif()
if(MEDAI_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

function(medai_warnings target)
  # Partial aggregate initialisation (plot panels, series) is intended: members have defaults.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
endfunction()

# medai_add_test(NAME name SOURCES ... LIBS ... LABELS ...)
# One CTest entry per test binary: a libtorch process costs ~0.8 s to start.
# medai_add_library(NAME name SOURCES ... [PUBLIC ...] [PRIVATE ...]): a static library with
# the project's include root and warnings.
function(medai_add_library)
  cmake_parse_arguments(L "" "NAME" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  add_library(${L_NAME} STATIC ${L_SOURCES})
  target_include_directories(${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${L_NAME} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE})
  medai_warnings(${L_NAME})
endfunction()

function(medai_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main medai_test_support)
  medai_warnings(${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "MEDAI_SHARED_DATA=${MEDAI_SHARED_DATA};MEDAI_BIN=$<TARGET_FILE:medai>;MEDAI_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
