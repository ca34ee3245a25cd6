"""Host unit tests for the firmware's portable C modules (firmware/main/*.c with a test).

There is no ESP32-S3 compiler in CI, so everything that does not touch the hardware or ESP-IDF
lives in plain C modules; each firmware/test/test_<module>.c is compiled here with the system
C compiler together with the portable modules and run. One pytest test per C test file, so a
failure names the module.

A portable module is firmware/main/<module>.c with a firmware/test/test_<module>.c. The
remaining firmware/main/*.c files talk to ESP-IDF and must be listed in IDF_SOURCES; they are
checked against the real ESP-IDF headers by hand (see firmware/README.md, "Checking the code").
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
MAIN = FIRMWARE / "main"
TEST_DIR = FIRMWARE / "test"

CC = os.environ.get("CC", "gcc")
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wpedantic", "-O1", "-g"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]

# The files that use ESP-IDF (not compiled on the host).
IDF_SOURCES = {
    "main.c",
    "app_settings.c",
    "storage.c",
    "wifi.c",
    "camera.c",
    "stream.c",
    "console_cmds.c",
}

C_STANDARD_HEADERS = {
    "assert.h", "ctype.h", "errno.h", "inttypes.h", "limits.h", "stdarg.h", "stdbool.h",
    "stddef.h", "stdint.h", "stdio.h", "stdlib.h", "string.h",
}

TEST_FILES = sorted(TEST_DIR.glob("test_*.c"))
PORTABLE_MODULES = sorted(MAIN / (p.stem[len("test_"):] + ".c") for p in TEST_FILES)


def _compiler() -> str:
    path = shutil.which(CC)
    if path is None:
        pytest.skip(f"C compiler {CC!r} not found")
    return path


@functools.lru_cache(maxsize=1)
def _sanitizer_flags(tmp_root: str) -> tuple[str, ...]:
    """Use ASan/UBSan when this compiler and system can build and run with them."""
    src = Path(tmp_root) / "san_probe.c"
    exe = Path(tmp_root) / "san_probe"
    src.write_text("#include <stdlib.h>\nint main(void){void *p = malloc(4); free(p); return 0;}\n")
    try:
        built = subprocess.run([_compiler(), *SANITIZE, str(src), "-o", str(exe)],
                               capture_output=True, timeout=120)
        if built.returncode != 0:
            return ()
        ran = subprocess.run([str(exe)], capture_output=True, timeout=60)
        return tuple(SANITIZE) if ran.returncode == 0 else ()
    except (OSError, subprocess.SubprocessError):
        return ()


def _build_and_run(test_c: Path, out_dir: Path, sources: list[Path]) -> subprocess.CompletedProcess:
    exe = out_dir / test_c.stem
    flags = _sanitizer_flags(str(out_dir.parent))
    cmd = [_compiler(), *CFLAGS, *flags, f"-I{MAIN}", f"-I{TEST_DIR}", "-o", str(exe), str(test_c),
           *map(str, sources)]
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"compile failed:\n{' '.join(cmd)}\n{built.stdout}{built.stderr}"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)


def test_portable_modules_exist():
    assert TEST_FILES, "no firmware/test/test_*.c found"
    missing = [str(m.relative_to(ROOT)) for m in PORTABLE_MODULES if not m.exists()]
    assert not missing, f"test files without a module: {missing}"


@pytest.mark.parametrize("test_c", TEST_FILES, ids=[p.stem for p in TEST_FILES])
def test_portable_module(test_c: Path, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp(test_c.stem)
    result = _build_and_run(test_c, out_dir, PORTABLE_MODULES)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{test_c.name} failed (exit {result.returncode}):\n{output}"
    m = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
    assert m, f"no summary line in output:\n{output}"
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0, output


def test_harness_reports_failures(tmp_path_factory):
    """A broken assertion in a C test must fail its pytest test."""
    out_dir = tmp_path_factory.mktemp("harness")
    bad = out_dir / "test_broken.c"
    bad.write_text('#include "check.h"\nint main(void){ CHECK_INT(1 + 1, 3); CHECK(1); '
                   'return check_report("test_broken"); }\n')
    result = _build_and_run(bad, out_dir, [])
    assert result.returncode != 0
    assert "1 passed, 1 failed" in result.stdout
    assert "CHECK_INT failed" in result.stderr


def test_every_main_source_is_classified():
    """Each firmware/main/*.c is either portable (and tested) or a known ESP-IDF file."""
    portable = {p.name for p in PORTABLE_MODULES}
    for src in sorted(MAIN.glob("*.c")):
        assert src.name in portable or src.name in IDF_SOURCES, (
            f"{src.name}: add firmware/test/test_{src.stem}.c (portable) or list it in IDF_SOURCES")
    assert not portable & IDF_SOURCES


def _includes(path: Path) -> list[tuple[str, str]]:
    return re.findall(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', path.read_text(), re.M)


def test_portable_modules_use_no_idf_headers():
    portable_headers = {p.with_suffix(".h").name for p in PORTABLE_MODULES} | {"version.h"}
    for module in PORTABLE_MODULES:
        for path in (module, module.with_suffix(".h")):
            if not path.exists():
                continue
            for kind, name in _includes(path):
                if kind == "<":
                    assert name in C_STANDARD_HEADERS, f"{path.name} includes <{name}>"
                else:
                    assert name in portable_headers, f"{path.name} includes non-portable \"{name}\""


def test_firmware_version_matches_project_version():
    version = re.search(r'#define\s+FIRMWARE_VERSION\s+"([^"]+)"', (MAIN / "version.h").read_text())
    project = re.search(r'set\(PROJECT_VER\s+"([^"]+)"\)', (FIRMWARE / "CMakeLists.txt").read_text())
    assert version and project and version.group(1) == project.group(1)


def test_board_configuration_facts():
    """Guards the settings that decide whether the AtomS3R boots, streams and takes console input."""
    defaults = dict(
        line.split("=", 1) for line in (FIRMWARE / "sdkconfig.defaults").read_text().splitlines()
        if line.startswith("CONFIG_"))
    expected = {
        "CONFIG_IDF_TARGET": '"esp32s3"',
        "CONFIG_ESPTOOLPY_FLASHSIZE_8MB": "y",
        "CONFIG_SPIRAM": "y",
        "CONFIG_SPIRAM_MODE_OCT": "y",
        "CONFIG_SPIRAM_SPEED_80M": "y",
        "CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240": "y",
        "CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG": "y",
        "CONFIG_PARTITION_TABLE_CUSTOM": "y",
        "CONFIG_GC0308_SUPPORT": "y",
        "CONFIG_OV3660_SUPPORT": "y",
        # wss:// to a server with a public certificate (stream.c attaches the bundle)
        "CONFIG_MBEDTLS_CERTIFICATE_BUNDLE": "y",
        "CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_FULL": "y",
    }
    for key, value in expected.items():
        assert defaults.get(key) == value, f"sdkconfig.defaults: {key} should be {value}"
    assert (FIRMWARE / defaults["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"].strip('"')).exists()

    manifest = (MAIN / "idf_component.yml").read_text()
    assert re.search(r'^\s+espressif/esp32-camera:', manifest, re.M)
    assert re.search(r'^\s+espressif/esp_websocket_client:', manifest, re.M)

    camera = (MAIN / "camera.c").read_text()

    def value(field: str) -> str:
        m = re.search(rf"\.{field}\s*=\s*([A-Za-z_0-9-]+)", camera)
        assert m, f"camera.c does not set .{field}"
        v = m.group(1)
        d = re.search(rf"#define\s+{v}\s+(\S+)", camera)  # resolve a macro
        return d.group(1) if d else v

    assert value("pin_pwdn") == "-1", "PWDN must be -1: GPIO18 is the camera power switch"
    assert value("pin_reset") == "-1"
    assert re.search(r"#define\s+CAM_PIN_POWER\s+18\b", camera)
    assert re.search(r"gpio_set_level\(\s*CAM_PIN_POWER\s*,\s*0\s*\)", camera), "power is active low"
    assert not re.search(r"\b(frame2jpg|fmt2jpg)\s*\(", camera), "use the _cb encoders (128 KB truncation)"

    console = (MAIN / "console_cmds.c").read_text()
    assert "esp_console_new_repl_usb_serial_jtag" in console


def _partition_rows():
    rows = []
    for line in (FIRMWARE / "partitions.csv").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            rows.append([c.strip() for c in line.split(",")])
    return rows


def test_partition_table_fits_8mb_flash():
    end = 0
    apps = 0
    for name, ptype, _subtype, offset, size, *_ in _partition_rows():
        off, sz = int(offset, 0), int(size, 0)
        assert off >= end, f"{name} overlaps the previous partition"
        if ptype == "app":
            apps += 1
            assert off % 0x10000 == 0, f"{name}: app partitions must be 64 KB aligned"
            assert sz >= 0x200000, f"{name}: leave the app room to grow"
        end = off + sz
    assert apps >= 1
    assert end <= 8 * 1024 * 1024


# ---------------------------------------------------------------------------- cacert, with OpenSSL

def _openssl(*args: str, cwd: Path) -> str:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make test certificates (Debian: openssl)"
    done = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def pem_tool(tmp_path_factory) -> Path:
    """firmware/test/tool_pem_paste.c: stdin through pem_paste, line by line like `cacert set`."""
    out = tmp_path_factory.mktemp("pem_tool")
    exe = out / "tool_pem_paste"
    cmd = [_compiler(), *CFLAGS, *_sanitizer_flags(str(out.parent)), f"-I{MAIN}", "-o", str(exe),
           str(TEST_DIR / "tool_pem_paste.c"), str(MAIN / "pem.c")]
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return exe


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """Certificates as a user makes them for the server's --tls-cert: self-signed RSA and EC
    with the LAN address in subjectAltName, a private CA with a server certificate it signed,
    and a large RSA-4096 one."""
    d = tmp_path_factory.mktemp("certs")
    san = "subjectAltName=IP:192.168.1.20,DNS:camserver.local"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", "/CN=cam rsa",
             "-addext", san, "-keyout", "rsa.key", "-out", "rsa.pem", cwd=d)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes",
             "-days", "365", "-subj", "/CN=cam ec", "-addext", san, "-keyout", "ec.key", "-out", "ec.pem",
             cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:4096", "-nodes", "-days", "365", "-subj", "/CN=big",
             "-keyout", "big.key", "-out", "big.pem", cwd=d)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "365", "-subj", "/CN=home CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", "/CN=camserver.local", "-keyout", "leaf.key", "-out", "leaf.csr", cwd=d)
    (d / "leaf.ext").write_text(san + "\n")
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "365", "-extfile", "leaf.ext", "-out", "leaf.pem", cwd=d)
    return d


def _paste(tool: Path, text: str | bytes, count: int = 1, cr_to_lf: bool = False) -> dict:
    data = text.encode() if isinstance(text, str) else text
    args = [str(tool), str(count)] + (["--cr-to-lf"] if cr_to_lf else [])
    done = subprocess.run(args, input=data, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    head, _, stored = done.stdout.decode().partition("\ntext:\n")
    fields = dict(item.split("=", 1) for item in head.splitlines()[0].split())
    fields["err"] = head.splitlines()[1][len("err="):]
    fields["text"] = stored
    return fields


def _der_len(certs: Path, name: str) -> int:
    done = subprocess.run([shutil.which("openssl"), "x509", "-in", name, "-outform", "der"], cwd=certs,
                          capture_output=True, timeout=60)
    assert done.returncode == 0
    return len(done.stdout)


@pytest.mark.parametrize("name", ["rsa.pem", "ec.pem", "ca.pem", "leaf.pem", "big.pem"])
def test_cacert_accepts_openssl_certificates(pem_tool, certs, name):
    pem = (certs / name).read_text()
    r = _paste(pem_tool, pem)
    assert r["status"] == "DONE", r["err"]
    assert r["certs"] == "1" and int(r["der"]) == _der_len(certs, name)
    assert r["text"] == pem  # stored as OpenSSL wrote it


def test_cacert_paste_through_a_crlf_terminal_ends_by_itself(pem_tool, certs):
    """A CR LF paste reaches the firmware as every line followed by an empty one; the paste still
    ends at the END line, and what follows is left for the console."""
    pem = (certs / "rsa.pem").read_text()
    r = _paste(pem_tool, (pem + "status\n").replace("\n", "\r\n"), cr_to_lf=True)
    assert r["status"] == "DONE", r["err"]
    assert r["text"] == pem
    assert int(r["lines"]) == 2 * len(pem.splitlines()) - 1  # stopped right after END


def test_cacert_chain_and_openssl_text_output(pem_tool, certs):
    ca, leaf = (certs / "ca.pem").read_text(), (certs / "leaf.pem").read_text()
    both = _paste(pem_tool, ca + leaf, count=2)
    assert both["status"] == "DONE" and both["certs"] == "2", both["err"]
    assert both["text"] == ca + leaf
    one = _paste(pem_tool, ca + leaf, count=1)  # `cacert set` takes the first only
    assert one["status"] == "DONE" and one["text"] == ca
    assert int(one["lines"]) == len(ca.splitlines())
    described = _openssl("x509", "-in", "leaf.pem", "-text", cwd=certs)
    assert "Certificate:" in described.splitlines()[0]
    r = _paste(pem_tool, described)
    assert r["status"] == "DONE", r["err"]
    assert r["text"] == leaf


def test_cacert_refuses_keys_damage_and_oversize(pem_tool, certs):
    for key in ("rsa.key", "ec.key", "leaf.csr"):
        r = _paste(pem_tool, (certs / key).read_text())
        assert r["status"] == "FAILED", key
        assert r["text"] == ""
    assert "never the key" in _paste(pem_tool, (certs / "rsa.key").read_text())["err"]
    assert "not a CERTIFICATE" in _paste(pem_tool, (certs / "leaf.csr").read_text())["err"]

    lines = (certs / "rsa.pem").read_text().splitlines(keepends=True)
    for missing in range(1, len(lines) - 1):
        r = _paste(pem_tool, "".join(lines[:missing] + lines[missing + 1:]))
        assert r["status"] == "FAILED" and "missing" in r["err"], (missing, r["err"])
    flipped = lines[:]
    flipped[3] = flipped[3][:10] + ("A" if flipped[3][10] != "A" else "B") + flipped[3][11:]
    # one changed character still decodes to a DER of the right size: mbedTLS on the device
    # refuses it (the signature no longer matches), the host check does not claim to
    assert _paste(pem_tool, "".join(flipped))["status"] == "DONE"
    flipped[3] = flipped[3][:10] + "!" + flipped[3][11:]
    assert "not base64" in _paste(pem_tool, "".join(flipped))["err"]

    big = (certs / "big.pem").read_text()
    assert len(big) * 3 > 4096
    r = _paste(pem_tool, big * 3, count=3)
    assert r["status"] == "FAILED" and "too long" in r["err"]
    r = _paste(pem_tool, big * 2, count=2)
    assert r["status"] == "DONE" and int(r["len"]) == 2 * len(big) <= 4096
