# Sourced by run.sh and test.sh: installs what Satchel's build needs when it
# is missing, and is quick when everything is already there. Versions are
# pinned here and in Cargo.lock; nothing is downloaded outside the package
# registries (crates.io, npm, Debian).

S3S_FS_VERSION=0.14.1

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '\n== %s\n' "$*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# The version of a crate as Cargo.lock pins it.
lock_version() {
  awk -v name="$1" '$1 == "name" && $3 == "\"" name "\"" { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown && return
  say "installing the wasm32 target"
  rustup target add wasm32-unknown-unknown
}

# scripts/build.sh (and cargo-leptos, for those who use it) run the
# wasm-bindgen on PATH, which must match Cargo.lock.
ensure_wasm_bindgen() {
  local want
  want=$(lock_version wasm-bindgen)
  [[ $(wasm-bindgen --version 2>/dev/null) == "wasm-bindgen $want"* ]] && return
  say "installing wasm-bindgen-cli $want"
  cargo install wasm-bindgen-cli --version "$want" --force
}

# Playwright and binaryen's wasm-opt (for release builds) come from npm.
# Playwright's own browser download is skipped: Debian's Chromium is used.
ensure_node_packages() {
  if [[ ! end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]]; then
    say "installing npm packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
  export PATH="$PWD/end2end/node_modules/.bin:$PATH"
}

# Python clients of the test suite (tuspy), in a venv of their own.
ensure_python_clients() {
  local venv=target/py-clients requirements=end2end/clients/requirements.txt
  if [[ ! $venv/.installed -nt $requirements ]]; then
    say "installing Python clients"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$venv/.installed"
  fi
}

ensure_chromium() {
  command -v chromium >/dev/null && return
  say "installing Chromium"
  as_root apt-get update -qq
  as_root apt-get install -y -qq chromium
}

# A real S3-compatible server for the S3 backend's tests.
ensure_s3s_fs() {
  cargo install --list | grep -q "^s3s-fs v$S3S_FS_VERSION:" && return
  say "installing s3s-fs $S3S_FS_VERSION"
  cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_wasm_bindgen
  ensure_node_packages
}
