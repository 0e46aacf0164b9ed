#!/usr/bin/env bash
# ChatKit conformance: builds the server, then drives it with the reference SDK's types.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/chatkit-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/chatkit_conformance/requirements.txt
cargo build --quiet
cd tests/chatkit_conformance
exec "../../$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
