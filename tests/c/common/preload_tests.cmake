# Shared by the interception-library tests (tests/c/hook, tests/c/ascend_hook): programs that run
# with LD_PRELOAD=libhami.so over the simulator, found through LD_LIBRARY_PATH (the programs link
# the simulator's libraries by path, no rpath), each test with its own simulator state and region
# files.  Included by each of those CMakeLists (the variable below is per directory).

# LD_PRELOAD of the tests: libhami.so, after the ASan runtime in address-sanitized builds (an
# LD_PRELOADed library built with ASan needs the ASan runtime loaded first).
set(HAMI_TEST_PRELOAD $<TARGET_FILE:hami>)
if(HAMI_SANITIZE STREQUAL "address")
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE HAMI_TEST_ASAN_RUNTIME OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(HAMI_TEST_PRELOAD "${HAMI_TEST_ASAN_RUNTIME}:$<TARGET_FILE:hami>")
endif()

# hami_preload_program(<name> SOURCES <src>... [LIBS <lib>...] [DEPENDS <target>...]): a test
# program linked with the core (to read the region) but not with libhami.so (LD_PRELOAD brings
# it), without rpath; built after libhami.so and DEPENDS.
function(hami_preload_program name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;DEPENDS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE hami_core_static ${T_LIBS} dl pthread)
  set_target_properties(${name} PROPERTIES SKIP_BUILD_RPATH ON)
  add_dependencies(${name} hami ${T_DEPENDS})
endfunction()

# hami_preload_test(<test> COMMAND <program> [<arg>...] FILES <stem> LIBRARY_PATH <dirs>
#                   [ENV <var>=<value>...]): ctest <test> under LD_PRELOAD=libhami.so with the
# simulator state <stem>.sim, the region <stem>.region, two simulated devices of 16 GiB, then
# ENV.
function(hami_preload_test test)
  cmake_parse_arguments(T "" "FILES;LIBRARY_PATH" "COMMAND;ENV" ${ARGN})
  add_test(NAME ${test} COMMAND ${T_COMMAND})
  set_tests_properties(${test} PROPERTIES
    TIMEOUT 60
    ENVIRONMENT "LD_PRELOAD=${HAMI_TEST_PRELOAD};LD_LIBRARY_PATH=${T_LIBRARY_PATH};HAMI_SIM_STATE=${T_FILES}.sim;HAMI_REGION=${T_FILES}.region;HAMI_SIM_DEVICES=2;HAMI_SIM_MEMORY=16Gi;${T_ENV}")
endfunction()
