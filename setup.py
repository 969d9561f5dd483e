"""Build of the hami-core Python package.

One CMake build (the top-level CMakeLists.txt) produces every native artefact; this file drives
it and bundles the results inside the package:

    hami_core/_native*.so              the pybind11 extension (src/)
    hami_core/_lib/libhami.so          the LD_PRELOAD interception library
    hami_core/_lib/sim/*.so*           the simulated vendor libraries (libcuda.so.1, ...)
    hami_core/_lib/bin/*               small C benchmark programs (exec bit kept)

`pip install .` copies them into the wheel's hami_core/; `pip install -e .` (editable) copies
them into the source tree's hami_core/ (git-ignored).  The CMake build directory is
build/py-<python tag> in the checkout (override with HAMI_BUILD_DIR), so rebuilds are
incremental.  Environment knobs: HAMI_BUILD_DIR, HAMI_CMAKE_ARGS (extra -D... arguments),
CMAKE_BUILD_PARALLEL_LEVEL (jobs).
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


def _cmake_exe() -> str:
    try:  # the PyPI cmake package (a build requirement) first
        import cmake  # type: ignore

        exe = os.path.join(cmake.CMAKE_BIN_DIR, "cmake")
        if os.path.exists(exe):
            return exe
    except Exception:
        pass
    exe = shutil.which("cmake")
    if not exe:
        raise RuntimeError("hami-core: cmake not found; `pip install cmake` or install it with your package manager")
    return exe


def _ninja_exe() -> str | None:
    try:
        import ninja  # type: ignore

        exe = os.path.join(ninja.BIN_DIR, "ninja")
        if os.path.exists(exe):
            return exe
    except Exception:
        pass
    return shutil.which("ninja")


def _read_cache(build_dir: str) -> dict[str, str]:
    cache = os.path.join(build_dir, "CMakeCache.txt")
    values: dict[str, str] = {}
    if os.path.exists(cache):
        with open(cache, encoding="utf-8", errors="replace") as f:
            for line in f:
                if "=" in line and ":" in line.split("=", 1)[0] and not line.startswith(("#", "//")):
                    key, value = line.rstrip("\n").split("=", 1)
                    values[key.split(":", 1)[0]] = value
    return values


class CMakeBuild(build_ext):
    def run(self) -> None:
        # setuptools builds into build_lib and copies the extension to the source tree afterwards
        # when inplace (editable) is set; remember it to put the _lib files there too.
        self._hami_inplace = bool(self.inplace or getattr(self, "editable_mode", False))
        super().run()

    def build_extension(self, ext: Extension) -> None:
        import pybind11

        build_dir = os.environ.get("HAMI_BUILD_DIR") or os.path.join(
            ROOT, "build", "py-" + (sys.implementation.cache_tag or "python")
        )
        os.makedirs(build_dir, exist_ok=True)
        pybind11_dir = pybind11.get_cmake_dir()
        ninja = _ninja_exe()

        # A cache from another interpreter / another (isolated, temporary) pybind11 or another
        # generator is dropped; object files stay, so the C parts do not rebuild needlessly.
        cache = _read_cache(build_dir)
        if cache and (
            cache.get("Python_EXECUTABLE") != sys.executable
            or cache.get("pybind11_DIR") != pybind11_dir
            or (cache.get("CMAKE_GENERATOR") == "Ninja") != bool(ninja)
        ):
            os.remove(os.path.join(build_dir, "CMakeCache.txt"))
            shutil.rmtree(os.path.join(build_dir, "CMakeFiles"), ignore_errors=True)

        cmake = _cmake_exe()
        args = [
            cmake, "-S", ROOT, "-B", build_dir,
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11_dir}",
            "-DHAMI_BUILD_PYTHON=ON",
            "-DHAMI_BUILD_TESTS=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
            # Release at -O2 (CMake's default is -O3): as fast for this code, a smaller library,
            # a quicker build, and no -O3-only false positives of -Wformat-truncation under -Werror.
            "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG",
            "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG",
        ]
        if ninja:
            args += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
        args += shlex.split(os.environ.get("HAMI_CMAKE_ARGS", ""))
        subprocess.check_call(args)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 2)
        subprocess.check_call([cmake, "--build", build_dir, "--parallel", jobs])

        # The extension, where setuptools expects it (it copies it to the source when inplace).
        native = self._find_native(build_dir)
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(native, dest)

        # The native libraries and programs, inside the package.
        pkg_dirs = [os.path.join(self.build_lib, "hami_core")]
        if getattr(self, "_hami_inplace", False):
            pkg_dirs.append(os.path.join(ROOT, "hami_core"))
        for pkg in pkg_dirs:
            self._bundle(build_dir, os.path.join(pkg, "_lib"))

    @staticmethod
    def _find_native(build_dir: str) -> str:
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        for dirpath, _dirs, files in os.walk(build_dir):
            if "CMakeFiles" in dirpath:
                continue
            for name in files:
                if name == "_native" + suffix:
                    return os.path.join(dirpath, name)
        raise RuntimeError(f"hami-core: the build did not produce _native{suffix} under {build_dir}")

    @staticmethod
    def _bundle(build_dir: str, lib_dir: str) -> None:
        shutil.rmtree(lib_dir, ignore_errors=True)
        os.makedirs(os.path.join(lib_dir, "sim"))
        os.makedirs(os.path.join(lib_dir, "bin"))
        built = os.path.join(build_dir, "lib")
        hook = os.path.join(built, "libhami.so")
        if os.path.exists(hook):
            shutil.copy2(hook, os.path.join(lib_dir, "libhami.so"))
        else:
            print("hami-core: warning: libhami.so was not built; `hami-core run` will not work", file=sys.stderr)
        sim = os.path.join(built, "sim")
        if os.path.isdir(sim):
            for name in sorted(os.listdir(sim)):
                src = os.path.join(sim, name)
                if ".so" in name and os.path.isfile(src):
                    shutil.copy2(src, os.path.join(lib_dir, "sim", name))  # follows symlinks
        bindir = os.path.join(built, "bin")
        if os.path.isdir(bindir):
            for name in sorted(os.listdir(bindir)):
                src = os.path.join(bindir, name)
                if os.path.isfile(src) and os.access(src, os.X_OK):
                    shutil.copy2(src, os.path.join(lib_dir, "bin", name))  # keeps the mode


setup(
    ext_modules=[CMakeExtension("hami_core._native")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
