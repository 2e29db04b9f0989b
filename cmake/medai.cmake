# Shared build settings for medai targets.
function(medai_warnings target)
  # Partial aggregate initialisation (plot panels, series) is intended: members have defaults.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
endfunction()

# medai_add_test(NAME name SOURCES ... LIBS ... LABELS ...)
# One CTest entry per test binary: a libtorch process costs ~0.8 s to start.
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
