"""docker/: the entrypoint script, the Kubernetes examples, and hami_core.containerenv.

There is no Docker engine on the build machines: nothing here builds or runs an image.  The
entrypoint runs under a POSIX sh (dash when installed) with HAMI_ENTRYPOINT_DRY_RUN=1 for each
input style, and once for real; the manifests are parsed and checked against the variable names
the library reads (hami_core.containerenv.LIBRARY_ENV, documented in docker/README.md).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER = os.path.join(ROOT, "docker")
ENTRYPOINT = os.path.join(DOCKER, "entrypoint.sh")
K8S = os.path.join(DOCKER, "k8s")
SH = shutil.which("dash") or "/bin/sh"


def _load_containerenv():
    """hami_core.containerenv; loaded from its file when the package itself does not import
    (the module imports _native lazily, so it works standalone)."""
    try:
        from hami_core import containerenv

        return containerenv
    except ImportError:
        spec = importlib.util.spec_from_file_location(
            "hami_core_containerenv_standalone", os.path.join(ROOT, "hami_core", "containerenv.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        return mod


CE = _load_containerenv()


def _real_library() -> Optional[str]:
    try:
        import hami_core

        return hami_core.library_path()
    except Exception:
        return None


def _native_ok() -> bool:
    try:
        CE._native()
        return True
    except ImportError:
        return False


needs_native = pytest.mark.skipif(not _native_ok(), reason="hami_core._native not importable (package not built)")


def base_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HAMI_", "CUDA_", "NPU_", "GPU_CORE_", "LIBCUDA_", "ASCEND_"))
           and k != "LD_PRELOAD"}
    env.update(extra)
    return env


@pytest.fixture
def fake_lib(tmp_path) -> str:
    """A file standing for libhami.so in dry runs (never actually preloaded)."""
    p = tmp_path / "lib" / "libhami.so"
    p.parent.mkdir()
    p.write_bytes(b"\x7fELF not really")
    return str(p)


def run_ep(env: Dict[str, str], *cmd: str, dry: bool = True) -> subprocess.CompletedProcess:
    env = dict(env)
    if dry:
        env["HAMI_ENTRYPOINT_DRY_RUN"] = "1"
    return subprocess.run([SH, ENTRYPOINT, *cmd], env=env, capture_output=True, text=True, timeout=60)


def parse_dry(out: str) -> Tuple[Dict[str, str], List[str]]:
    lines = out.splitlines()
    assert lines and lines[-1].startswith("exec:"), out
    keys = [ln.split("=", 1)[0] for ln in lines[:-1]]
    assert keys == sorted(keys), "variables not sorted: %r" % keys
    env = dict(ln.split("=", 1) for ln in lines[:-1])
    return env, shlex.split(lines[-1][len("exec:"):])


def dry(env: Dict[str, str], *cmd: str) -> Tuple[Dict[str, str], List[str], str]:
    r = run_ep(env, *cmd)
    assert r.returncode == 0, r.stderr
    e, c = parse_dry(r.stdout)
    return e, c, r.stderr


# --------------------------------------------------------------------------------------------
# entrypoint: the script itself


def test_entrypoint_is_posix_sh():
    with open(ENTRYPOINT, encoding="utf-8") as f:
        text = f.read()
    assert text.startswith("#!/bin/sh\n")
    assert "set -eu" in text
    assert os.access(ENTRYPOINT, os.X_OK)
    r = subprocess.run([SH, "-n", ENTRYPOINT], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    code = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    for bashism in ("[[", "function ", "$'", "<<<", "source ", "declare ", "local ", "pipefail",
                    "${!", "==", "$RANDOM", "&>"):
        assert bashism not in code, bashism
    if shutil.which("checkbashisms"):  # pragma: no cover - not installed everywhere
        r = subprocess.run(["checkbashisms", ENTRYPOINT], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_no_command_is_an_error(fake_lib):
    r = run_ep(base_env(HAMI_LIBRARY=fake_lib))
    assert r.returncode != 0 and "no command" in r.stderr


# --------------------------------------------------------------------------------------------
# entrypoint: each input style


def test_our_names(tmp_path, fake_lib):
    region = str(tmp_path / "regions" / "sub" / "c.region")
    env, cmd, err = dry(base_env(HAMI_LIBRARY=fake_lib, HAMI_MEMORY_LIMIT="4g", HAMI_MEMORY_LIMIT_1="2g",
                                 HAMI_COMPUTE_LIMIT="30", HAMI_COMPUTE_LIMIT_1="50", HAMI_REGION=region,
                                 HAMI_POLICY="force"),
                        "python3", "-c", "print('a b')", "it's")
    assert env == {
        "HAMI_LIBRARY": fake_lib,
        "HAMI_MEMORY_LIMIT": "4g", "HAMI_MEMORY_LIMIT_1": "2g",
        "HAMI_COMPUTE_LIMIT": "30", "HAMI_COMPUTE_LIMIT_1": "50",
        "HAMI_REGION": region, "HAMI_POLICY": "force",
        "LD_PRELOAD": fake_lib,
    }
    assert cmd == ["python3", "-c", "print('a b')", "it's"]
    assert os.path.isdir(os.path.dirname(region)), "the region's directory was not created"
    assert err == ""  # quiet unless HAMI_LOG_LEVEL=info


def test_hami_cuda_names_map_the_shared_cache_to_the_region(tmp_path, fake_lib):
    cache = str(tmp_path / "usr-local-vgpu" / "0b1e.cache")
    env, cmd, _ = dry(base_env(HAMI_LIBRARY=fake_lib, CUDA_DEVICE_MEMORY_LIMIT_0="4096m",
                               CUDA_DEVICE_SM_LIMIT="30", CUDA_DEVICE_MEMORY_SHARED_CACHE=cache,
                               GPU_CORE_UTILIZATION_POLICY="force", CUDA_DISABLE_CONTROL="true"),
                      "nvidia-smi")
    assert env["HAMI_REGION"] == cache
    assert env["CUDA_DEVICE_MEMORY_SHARED_CACHE"] == cache
    assert env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "4096m"
    assert env["CUDA_DEVICE_SM_LIMIT"] == "30"
    assert env["GPU_CORE_UTILIZATION_POLICY"] == "force"
    assert env["LD_PRELOAD"] == fake_lib
    assert os.path.isdir(os.path.dirname(cache))
    assert cmd == ["nvidia-smi"]


def test_explicit_region_beats_the_shared_cache(tmp_path, fake_lib):
    region = str(tmp_path / "mine.region")
    env, _, _ = dry(base_env(HAMI_LIBRARY=fake_lib, HAMI_REGION=region,
                             CUDA_DEVICE_MEMORY_SHARED_CACHE=str(tmp_path / "vgpu" / "x.cache")), "true")
    assert env["HAMI_REGION"] == region


def test_ascend_names(fake_lib):
    env, _, _ = dry(base_env(HAMI_LIBRARY=fake_lib, NPU_MEM_QUOTA="16384", NPU_PRIORITY="30",
                             ASCEND_VISIBLE_DEVICES="0"), "python3", "train.py")
    assert env == {"HAMI_LIBRARY": fake_lib, "NPU_MEM_QUOTA": "16384", "NPU_PRIORITY": "30",
                   "ASCEND_VISIBLE_DEVICES": "0", "LD_PRELOAD": fake_lib}
    assert "HAMI_REGION" not in env  # the library's default, not invented here


def test_existing_preload_is_kept_after_the_library(fake_lib):
    env, _, _ = dry(base_env(HAMI_LIBRARY=fake_lib, LD_PRELOAD="/opt/other/libjemalloc.so"), "true")
    assert env["LD_PRELOAD"] == f"{fake_lib}:/opt/other/libjemalloc.so"


@pytest.mark.parametrize("existing,expected", [
    ("{lib}", "{lib}"),
    ("{lib}:{lib}", "{lib}"),
    ("/a/x.so:{lib}", "{lib}:/a/x.so"),
    ("/a/x.so {lib} /b/y.so", "{lib}:/a/x.so:/b/y.so"),  # ld.so also takes spaces
    (":/a/x.so::", "{lib}:/a/x.so"),
])
def test_library_is_not_duplicated(fake_lib, existing, expected):
    env, _, _ = dry(base_env(HAMI_LIBRARY=fake_lib, LD_PRELOAD=existing.format(lib=fake_lib)), "true")
    assert env["LD_PRELOAD"] == expected.format(lib=fake_lib)


def test_disable_skips_the_preload(fake_lib):
    env, cmd, _ = dry(base_env(HAMI_LIBRARY=fake_lib, HAMI_DISABLE="1", HAMI_MEMORY_LIMIT="4g"), "true")
    assert "LD_PRELOAD" not in env
    assert cmd == ["true"]
    # an inherited preload of libhami.so is removed, other libraries stay
    env, _, _ = dry(base_env(HAMI_LIBRARY=fake_lib, HAMI_DISABLE="true", LD_PRELOAD=f"/a/x.so:{fake_lib}"), "true")
    assert env["LD_PRELOAD"] == "/a/x.so"
    # disabled: no library needed at all
    env, _, _ = dry(base_env(HAMI_DISABLE="yes", HAMI_LIBRARY="/nonexistent/libhami.so"), "true")
    assert "LD_PRELOAD" not in env


def test_info_log_line(fake_lib, tmp_path):
    region = str(tmp_path / "r" / "x.region")
    _, _, err = dry(base_env(HAMI_LIBRARY=fake_lib, HAMI_LOG_LEVEL="info", HAMI_MEMORY_LIMIT="4g",
                             HAMI_REGION=region), "true")
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert fake_lib in lines[0] and region in lines[0] and "HAMI_MEMORY_LIMIT=4g" in lines[0]
    _, _, err = dry(base_env(HAMI_LIBRARY=fake_lib, HAMI_LOG_LEVEL="warn"), "true")
    assert err == ""


def test_missing_library_is_an_error(tmp_path):
    r = run_ep(base_env(HAMI_LIBRARY=str(tmp_path / "nope.so")), "true")
    assert r.returncode != 0 and "HAMI_LIBRARY" in r.stderr and "no such file" in r.stderr
    if os.path.exists("/usr/local/lib/hami/libhami.so"):
        return
    # no HAMI_LIBRARY, no python3 on PATH, nothing at the fallback path
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dirname", "mkdir", "env", "grep", "sort", "sed", "tr", "cat"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bindir / tool)
    r = run_ep(base_env(PATH=str(bindir)), "true")
    assert r.returncode != 0
    assert "libhami.so not found" in r.stderr and "HAMI_LIBRARY" in r.stderr


def test_library_found_through_python(tmp_path):
    lib = _real_library()
    if lib is None:
        pytest.skip("hami_core.library_path() does not work here")
    # python3 on PATH must be this interpreter (with hami_core importable)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # a wrapper, not a symlink: a symlinked venv interpreter outside its venv loses the venv
    wrapper = bindir / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o755)
    pp = os.environ.get("PYTHONPATH", "")
    env = base_env(PATH=f"{bindir}:{os.environ.get('PATH', '')}",
                   PYTHONPATH=os.pathsep.join(p for p in (os.path.dirname(os.path.dirname(
                       os.path.abspath(sys.modules['hami_core'].__file__))), pp) if p))
    e, _, _ = dry(env, "true")
    assert e["LD_PRELOAD"] == lib


def _fake_hami_core(tmp_path, supports_env_only: bool) -> str:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    script = bindir / "hami-core"
    help_line = "  --env-only  check the environment only" if supports_env_only else "  --json"
    script.write_text(
        "#!/bin/sh\n"
        f"if [ \"$2\" = --help ]; then echo '{help_line}'; exit 0; fi\n"
        "if [ \"$2\" = --env-only ]; then\n"
        "  case \"${HAMI_MEMORY_LIMIT:-}\" in abc) echo 'HAMI_MEMORY_LIMIT=abc: not a size'; exit 1;; esac\n"
        "  echo ok; exit 0\n"
        "fi\n"
        "exit 2\n")
    script.chmod(0o755)
    return f"{bindir}:{os.environ.get('PATH', '')}"


def test_validation_with_doctor(tmp_path, fake_lib):
    path = _fake_hami_core(tmp_path, supports_env_only=True)
    # good values: silent
    r = run_ep(base_env(PATH=path, HAMI_LIBRARY=fake_lib, HAMI_MEMORY_LIMIT="4g"), "true")
    assert r.returncode == 0 and r.stderr == ""
    # bad values: a warning, and the command still runs (the library fails closed on its own)
    r = run_ep(base_env(PATH=path, HAMI_LIBRARY=fake_lib, HAMI_MEMORY_LIMIT="abc"), "true")
    assert r.returncode == 0
    assert "warning" in r.stderr and "HAMI_MEMORY_LIMIT=abc: not a size" in r.stderr
    assert parse_dry(r.stdout)[1] == ["true"]
    # strict: stop
    r = run_ep(base_env(PATH=path, HAMI_LIBRARY=fake_lib, HAMI_MEMORY_LIMIT="abc",
                        HAMI_ENTRYPOINT_VALIDATE="strict"), "true")
    assert r.returncode != 0 and "not a size" in r.stderr and "exec:" not in r.stdout
    # off: not even asked
    r = run_ep(base_env(PATH=path, HAMI_LIBRARY=fake_lib, HAMI_MEMORY_LIMIT="abc",
                        HAMI_ENTRYPOINT_VALIDATE="off"), "true")
    assert r.returncode == 0 and r.stderr == ""


def test_validation_skipped_without_env_only(tmp_path, fake_lib):
    # a hami-core whose doctor has no --env-only (or no doctor at all): nothing happens
    path = _fake_hami_core(tmp_path, supports_env_only=False)
    r = run_ep(base_env(PATH=path, HAMI_LIBRARY=fake_lib, HAMI_MEMORY_LIMIT="abc",
                        HAMI_ENTRYPOINT_VALIDATE="strict"), "true")
    assert r.returncode == 0 and r.stderr == ""


def test_warns_about_hami_libvgpu_in_etc_ld_so_preload(tmp_path, fake_lib):
    etc = tmp_path / "ld.so.preload"
    etc.write_text("/usr/local/vgpu/libvgpu.so\n")
    r = run_ep(base_env(HAMI_LIBRARY=fake_lib, HAMI_ETC_LD_SO_PRELOAD=str(etc)), "true")
    assert r.returncode == 0
    assert "libvgpu.so" in r.stderr and "CUDA_DISABLE_CONTROL=true" in r.stderr


def test_real_exec_preloads_the_library(tmp_path):
    lib = _real_library()
    if lib is None:
        pytest.skip("hami_core.library_path() does not work here (a non-library file in LD_PRELOAD "
                    "would make ld.so complain in every process)")
    region = str(tmp_path / "run" / "hami.region")
    r = run_ep(base_env(HAMI_LIBRARY=lib, HAMI_REGION=region, LD_PRELOAD=lib),
               "sh", "-c", 'printf "%s|%s|" "$LD_PRELOAD" "$HAMI_REGION"; printf "[%s]" "$@"', "x", "a b", "it's",
               dry=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{lib}|{region}|[a b][it's]"
    assert "ld.so" not in r.stderr
    # the exit status is the command's (exec, no wrapper process)
    r = run_ep(base_env(HAMI_LIBRARY=lib, HAMI_REGION=region), "sh", "-c", "exit 7", dry=False)
    assert r.returncode == 7


# --------------------------------------------------------------------------------------------
# Dockerfile and manifests


def test_dockerfile_uses_the_entrypoint():
    with open(os.path.join(DOCKER, "Dockerfile"), encoding="utf-8") as f:
        text = f.read()
    assert re.search(r"^COPY docker/entrypoint\.sh /usr/local/bin/hami-entrypoint\.sh$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/hami-entrypoint\.sh"\]$', text, re.M)
    assert re.search(r"^ARG BASE_IMAGE=nvidia/cuda:", text, re.M)
    assert "pip install" in text
    # an image default for HAMI_REGION would hide HAMi's CUDA_DEVICE_MEMORY_SHARED_CACHE
    assert not re.search(r"^ENV[^\n]*HAMI_REGION", text, re.M)


def _load_manifests(name: str) -> List[dict]:
    path = os.path.join(K8S, name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml  # type: ignore
    except ImportError:  # pragma: no cover - PyYAML is usually there
        return _minimal_yaml_pods(text)
    return [d for d in yaml.safe_load_all(text) if d]


def _minimal_yaml_pods(text: str) -> List[dict]:  # pragma: no cover - without PyYAML
    """Just enough of the examples' structure: env names/values and volume mounts per container."""
    pods = []
    for doc in re.split(r"^---\s*$", text, flags=re.M):
        if "kind: Pod" not in doc:
            continue
        containers = []
        for block in re.split(r"^    - name: ", doc, flags=re.M)[1:]:
            env = [{"name": n, "value": v} for n, v in
                   re.findall(r"- name: (\S+)\n\s+value: \"?([^\"\n]*)\"?", block)]
            mounts = [{"name": n, "mountPath": p} for n, p in
                      re.findall(r"- name: (\S+)\n\s+mountPath: (\S+)", block)]
            limits = dict(re.findall(r"^\s+((?:nvidia|huawei)\.com/[\w.-]+): (\S+)", block, re.M))
            containers.append({"name": block.split("\n", 1)[0].strip(), "image": "", "env": env,
                               "volumeMounts": mounts, "resources": {"limits": limits},
                               "command": ["/usr/local/bin/hami-entrypoint.sh"]})
        vols = [{"name": n} for n in re.findall(r"^    - name: (\S+)\n\s+(?:emptyDir|hostPath)", doc, re.M)]
        pods.append({"kind": "Pod", "metadata": {"name": ""}, "spec": {"containers": containers, "volumes": vols}})
    return pods


MANIFESTS = ["pod-hami.yaml", "pod-plain.yaml", "pod-ascend.yaml"]


def _env(c: dict) -> Dict[str, str]:
    return {e["name"]: str(e.get("value", "")) for e in c.get("env") or []}


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_env_names_are_ones_we_read(name):
    pods = _load_manifests(name)
    assert pods
    for pod in pods:
        assert pod["kind"] == "Pod"
        for c in pod["spec"]["containers"]:
            for var in _env(c):
                assert CE.is_known_env(var) or var in CE.HAMI_PLUGIN_ENV, \
                    f"{name}: container {c['name']} sets {var}, which neither libhami.so nor the entrypoint reads"
            assert c.get("command") in (None, ["/usr/local/bin/hami-entrypoint.sh"]), c.get("command")


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_region_is_on_a_volume(name):
    for pod in _load_manifests(name):
        volumes = {v["name"] for v in pod["spec"].get("volumes") or []}
        for c in pod["spec"]["containers"]:
            region = _env(c).get("HAMI_REGION")
            if region is None:
                continue
            mounts = [m for m in c.get("volumeMounts") or []
                      if os.path.dirname(region) == m["mountPath"].rstrip("/")
                      or os.path.dirname(region).startswith(m["mountPath"].rstrip("/") + "/")]
            assert mounts, f"{name}: HAMI_REGION={region} of {c['name']} is on no volumeMount"
            assert mounts[0]["name"] in volumes, f"{name}: volume {mounts[0]['name']} is not declared"


def test_plain_pod_shares_one_region_between_containers():
    (pod,) = _load_manifests("pod-plain.yaml")
    cs = pod["spec"]["containers"]
    assert len(cs) >= 2
    regions = {_env(c).get("HAMI_REGION") for c in cs}
    assert len(regions) == 1 and None not in regions
    region = regions.pop()
    used = set()
    for c in cs:
        (m,) = [m for m in c["volumeMounts"] if os.path.dirname(region) == m["mountPath"].rstrip("/")]
        used.add(m["name"])
    assert len(used) == 1, "the containers mount different volumes at the region's directory"
    app, side = cs[0], cs[1]
    assert "HAMI_MEMORY_LIMIT" in _env(app) and "HAMI_COMPUTE_LIMIT" in _env(app)
    assert _env(side).get("HAMI_DISABLE") == "1"
    assert any("hami-core" in a and ("status" in a or "top" in a) for a in side.get("args") or [])
    # the limits parse with the library's grammar
    if _native_ok():
        CE.container_env({"memory": _env(app)["HAMI_MEMORY_LIMIT"], "compute": _env(app)["HAMI_COMPUTE_LIMIT"]},
                         region)


def test_hami_pod_uses_hamis_resources():
    (pod,) = _load_manifests("pod-hami.yaml")
    (c,) = pod["spec"]["containers"]
    limits = c["resources"]["limits"]
    assert {"nvidia.com/gpu", "nvidia.com/gpumem", "nvidia.com/gpucores"} <= set(limits)
    assert _env(c).get("CUDA_DISABLE_CONTROL") == "true"  # no second interception layer from HAMi
    assert "HAMI_REGION" not in _env(c)  # the entrypoint takes HAMi's per-container cache path


def test_ascend_pods():
    pods = _load_manifests("pod-ascend.yaml")
    assert len(pods) == 2
    hami, plain = pods
    assert "huawei.com/Ascend910B" in hami["spec"]["containers"][0]["resources"]["limits"]
    assert "huawei.com/Ascend910B-memory" in hami["spec"]["containers"][0]["resources"]["limits"]
    env = _env(plain["spec"]["containers"][0])
    assert env["NPU_MEM_QUOTA"].isdigit() and env["NPU_PRIORITY"].isdigit()


def test_readme_documents_every_variable():
    with open(os.path.join(DOCKER, "README.md"), encoding="utf-8") as f:
        text = f.read()
    for var in CE.LIBRARY_ENV + CE.ENTRYPOINT_ENV + CE.HAMI_PLUGIN_ENV:
        assert f"`{var}" in text, var
    assert "not built or run in ci" in text.lower()
    for name in MANIFESTS:
        assert name in text


def test_manifest_env_runs_through_the_entrypoint(tmp_path, fake_lib):
    """Each example container's env, fed to the entrypoint (region paths moved under tmp)."""
    for name in MANIFESTS:
        for pod in _load_manifests(name):
            for c in pod["spec"]["containers"]:
                env = _env(c)
                if "HAMI_REGION" in env:
                    env["HAMI_REGION"] = str(tmp_path / env["HAMI_REGION"].lstrip("/"))
                env.setdefault("HAMI_LIBRARY", fake_lib)
                out, cmd, _ = dry(base_env(**env), *(c.get("args") or ["true"]))
                if env.get("HAMI_DISABLE") == "1":
                    assert "LD_PRELOAD" not in out
                else:
                    assert out["LD_PRELOAD"] == fake_lib
                assert cmd == (c.get("args") or ["true"])


# --------------------------------------------------------------------------------------------
# hami_core.containerenv


def test_known_env():
    assert CE.is_known_env("HAMI_MEMORY_LIMIT_3") and CE.is_known_env("CUDA_DEVICE_SM_LIMIT_0")
    assert CE.is_known_env("NPU_MEM_QUOTA") and CE.is_known_env("HAMI_LIBRARY")
    assert not CE.is_known_env("NPU_MEM_QUOTA_0") and not CE.is_known_env("HAMI_MEMORY")
    assert not CE.is_known_env("CUDA_DISABLE_CONTROL")


def test_limits_from_options():
    lim = CE.limits_from_options(["4g", "1=2g"], ["30", "1=50"], policy="force")
    assert lim == {"memory": "4g", "compute": "30", "device_memory": {1: "2g"}, "device_compute": {1: "50"},
                   "policy": "force"}
    with pytest.raises(ValueError, match="ordinal"):
        CE.limits_from_options(["x=1g"])


@needs_native
def test_container_env():
    env = CE.container_env(CE.limits_from_options(["4g", "1=512Mi"], ["30"], log_level="info"),
                           "/run/hami/hami.region")
    assert env == {"HAMI_MEMORY_LIMIT": str(4 << 30), "HAMI_MEMORY_LIMIT_1": str(512 << 20),
                   "HAMI_COMPUTE_LIMIT": "30", "HAMI_LOG_LEVEL": "info", "HAMI_REGION": "/run/hami/hami.region"}
    env = CE.container_env({"memory": 1 << 30}, "/r/x.region", library="/opt/hami/libhami.so")
    assert env["LD_PRELOAD"] == "/opt/hami/libhami.so" and env["HAMI_MEMORY_LIMIT"] == str(1 << 30)
    for bad, match in (({"memory": "abc"}, "memory"), ({"compute": "150"}, "compute"),
                       ({"device_memory": {0: "-1g"}}, "device 0"), ({"policy": "maybe"}, "policy")):
        with pytest.raises(ValueError, match=match):
            CE.container_env(bad, "/run/hami/hami.region")
    with pytest.raises(ValueError, match="absolute"):
        CE.container_env({}, "relative.region")


@needs_native
def test_container_env_accepts_a_limits_object():
    import hami_core

    lim = hami_core.Limits(memory="2g", compute=40, device_memory={0: "1g"})
    env = CE.container_env(lim, "/run/hami/hami.region")
    assert env["HAMI_MEMORY_LIMIT"] == str(2 << 30) and env["HAMI_MEMORY_LIMIT_0"] == str(1 << 30)
    assert env["HAMI_COMPUTE_LIMIT"] == "40"


def test_container_mounts():
    assert CE.container_mounts("/run/hami/hami.region") == [
        {"name": "hami-region", "source": "/run/hami", "target": "/run/hami", "read_only": False}]
    m = CE.container_mounts("/run/hami/hami.region", library="/opt/hami/libhami.so", host_region_dir="/var/lib/x")
    assert m[0]["source"] == "/var/lib/x" and m[1] == {"name": "hami-lib", "source": "/opt/hami/libhami.so",
                                                        "target": "/opt/hami/libhami.so", "read_only": True}


SAMPLE_ENV = {"HAMI_MEMORY_LIMIT": "4294967296", "HAMI_COMPUTE_LIMIT": "30",
              "HAMI_REGION": "/tmp/a dir/it's \"x\".region", "LD_PRELOAD": "/opt/hami lib/libhami.so"}


def _sample_mounts():
    return CE.container_mounts(SAMPLE_ENV["HAMI_REGION"], library=SAMPLE_ENV["LD_PRELOAD"])


def test_render_json_round_trip():
    out = json.loads(CE.render("json", SAMPLE_ENV, _sample_mounts()))
    assert out == {"env": SAMPLE_ENV, "mounts": _sample_mounts()}


def test_render_shell_sourced(tmp_path):
    f = tmp_path / "env.sh"
    f.write_text(CE.render("shell", SAMPLE_ENV, _sample_mounts()))
    for existing, expected in ((None, SAMPLE_ENV["LD_PRELOAD"]),
                               ("/x/other.so", SAMPLE_ENV["LD_PRELOAD"] + ":/x/other.so")):
        env = base_env()
        if existing:
            env["LD_PRELOAD"] = existing
        # sourced twice: idempotent.  `env -0` avoids any ambiguity from newlines in values;
        # LD_PRELOAD is printed by the shell itself (not preloaded into a child process)
        r = subprocess.run([SH, "-c", '. "$1"; . "$1"; printf "%s" "$LD_PRELOAD"; printf "\\0"; env -u LD_PRELOAD -0',
                            "sh", str(f)], env=env, capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        preload, rest = r.stdout.split(b"\0", 1)
        got = dict(item.decode().split("=", 1) for item in rest.split(b"\0") if item)
        assert preload.decode() == expected
        for k, v in SAMPLE_ENV.items():
            if k != "LD_PRELOAD":
                assert got[k] == v


def test_render_docker():
    out = CE.render("docker", SAMPLE_ENV, _sample_mounts())
    args = shlex.split(out)
    pairs = list(zip(args[::2], args[1::2]))
    assert [p for p in pairs if p[0] == "-e"] == [("-e", f"{k}={v}") for k, v in SAMPLE_ENV.items()]
    region_dir = os.path.dirname(SAMPLE_ENV["HAMI_REGION"])
    assert [p for p in pairs if p[0] == "-v"] == [
        ("-v", f"{region_dir}:{region_dir}"),
        ("-v", f"{SAMPLE_ENV['LD_PRELOAD']}:{SAMPLE_ENV['LD_PRELOAD']}:ro")]


def test_render_k8s():
    out = CE.render("k8s", SAMPLE_ENV, _sample_mounts())
    try:
        import yaml  # type: ignore
    except ImportError:  # pragma: no cover
        pytest.skip("PyYAML not installed")
    doc = yaml.safe_load(out)
    assert {e["name"]: e["value"] for e in doc["env"]} == SAMPLE_ENV
    assert all(isinstance(e["value"], str) for e in doc["env"])
    region_dir = os.path.dirname(SAMPLE_ENV["HAMI_REGION"])
    assert doc["volumeMounts"][0] == {"name": "hami-region", "mountPath": region_dir}
    assert doc["volumeMounts"][1]["readOnly"] is True
    assert doc["volumes"][0] == {"name": "hami-region", "hostPath": {"path": region_dir, "type": "DirectoryOrCreate"}}
    # numbers stay strings even without PyYAML's help: every value is quoted
    assert '"30"' in out and '"4294967296"' in out


def test_render_unknown_format():
    with pytest.raises(ValueError, match="shell, docker, k8s, json"):
        CE.render("toml", {}, [])
