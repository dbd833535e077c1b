"""Dockerfile and .dockerignore (no image can be built here: checked statically)."""

from __future__ import annotations

import json
import re

from manifests import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_multi_stage_build_and_distroless_nonroot_runtime():
    froms = [rest for word, rest in instructions() if word == "FROM"]
    assert len(froms) == 2
    assert re.match(r"docker\.io/library/rust:\$\{RUST_VERSION\}-bookworm AS build", froms[0])
    assert froms[1] == "gcr.io/distroless/cc-debian12:nonroot"


def test_builder_rust_is_at_least_the_crates_rust_version():
    cargo = (ROOT / "Cargo.toml").read_text()
    wanted = re.search(r'^rust-version\s*=\s*"([\d.]+)"', cargo, re.M)
    have = re.search(r"^ARG RUST_VERSION=([\d.]+)", DOCKERFILE, re.M).group(1)
    if wanted:
        assert tuple(map(int, have.split("."))) >= tuple(map(int, wanted.group(1).split(".")))


def test_release_locked_build():
    runs = " ".join(rest for word, rest in instructions() if word == "RUN")
    assert "cargo build --release --locked" in runs


def test_runtime_settings():
    ins = instructions()
    final = ins[[i for i, (w, _) in enumerate(ins) if w == "FROM"][-1]:]
    assert ("USER", "65532:65532") in final
    assert json.loads(dict(final)["ENTRYPOINT"]) == ["/ssc-operator"]
    assert json.loads(dict(final)["CMD"]) == ["run"]
    assert any(w == "COPY" and r.startswith("--from=build") and r.endswith("/ssc-operator") for w, r in final)


def test_no_openssl_in_the_dependency_graph():
    # The runtime image has no libssl: TLS must stay rustls.
    lock = (ROOT / "Cargo.lock").read_text()
    assert 'name = "openssl-sys"' not in lock and 'name = "native-tls"' not in lock


def test_build_context_has_what_cargo_needs_and_nothing_else():
    ignore = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    assert ignore[0] == "*"
    allowed = {ln[1:].rstrip("/*").rstrip("/") for ln in ignore[1:] if ln.startswith("!")}
    assert {"Cargo.toml", "Cargo.lock", "src"} <= allowed
    copied = [rest for word, rest in instructions() if word == "COPY" and not rest.startswith("--from")]
    for c in copied:
        for src in c.split()[:-1]:
            assert src.rstrip("/") in allowed, f"COPY {src} is excluded by .dockerignore"
    # Explicit target paths in Cargo.toml (lib, bins, build script) must be in the context.
    cargo = (ROOT / "Cargo.toml").read_text()
    for path in re.findall(r'^(?:path|build)\s*=\s*"([^"]+)"', cargo, re.M):
        assert path.split("/")[0] in allowed, f"{path} is not in the build context"
    assert not (ROOT / "build.rs").exists() or "build.rs" in allowed
    # Declared targets without a path live where cargo looks by default; cargo refuses the whole
    # manifest (even for `cargo build --bin`) when one of them is missing from the context.
    for kind, folder in (("bench", "benches"), ("test", "tests"), ("example", "examples")):
        for block in re.findall(rf"^\[\[{kind}\]\]\n((?:[^\[\n].*\n?)*)", cargo, re.M):
            if not re.search(r"^path\s*=", block, re.M):
                assert folder in allowed, f"[[{kind}]] {block.strip()} needs {folder}/ in the build context"



def test_the_image_leaves_the_sandbox_out():
    # `demo` (the kube-standin sandbox API server and what only it needs) is a default feature
    # for `cargo run -- demo`; the image's build turns it off.
    runs = " ".join(rest for word, rest in instructions() if word == "RUN")
    assert "--no-default-features" in runs
    cargo = (ROOT / "Cargo.toml").read_text()
    assert re.search(r'^default = \["demo"\]', cargo, re.M)
    assert re.search(r'^kube-standin = \{[^}]*optional = true', cargo, re.M)
