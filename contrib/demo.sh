#!/bin/sh
# contrib/demo.sh - the README's demo command: install what is missing,
# build, and run becknd on embedded defaults.
#
# Until the local demo network lands, the demo shows the signing core: it
# generates a key pair, signs a Beckn search body, verifies the header, and
# shows that a one-byte change to the body is rejected.
set -eu
cd "$(dirname "$0")/.."
. contrib/deps.sh

becknd_install_deps
becknd_build build/demo >build-demo.log 2>&1 || {
	tail -40 build-demo.log
	echo "becknd demo: build failed (full log: build-demo.log)" >&2
	exit 1
}
bin=build/demo/becknd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== becknd keygen"
"$bin" keygen | tee "$tmp/keys"
priv=$(sed -n 's/^signing_private_key=//p' "$tmp/keys")
pub=$(sed -n 's/^signing_public_key=//p' "$tmp/keys")

now=$(date +%s)
printf '%s' '{"context":{"domain":"onest:courses","action":"search","version":"1.1.0","bap_id":"bap.example.org","bap_uri":"https://bap.example.org/beckn","transaction_id":"6f4b8e0a-3c1d-4e8b-9a51-0d6c1b7f2e11","message_id":"a1d5c3e2-7b9f-4c0a-8e6d-2f1b4a9c7e30","timestamp":"2026-11-22T10:00:00.000Z","ttl":"PT30S"},"message":{"intent":{"item":{"descriptor":{"name":"python"}}}}}' >"$tmp/body.json"

echo "== becknd sign (body: a course search, $(wc -c <"$tmp/body.json") bytes)"
"$bin" sign --private-key "$priv" --subscriber-id bap.example.org \
    --key-id bap.example.org.k1 <"$tmp/body.json" | tee "$tmp/auth"

echo "== becknd verify (same bytes)"
"$bin" verify --public-key "$pub" --authorization "$(cat "$tmp/auth")" \
    <"$tmp/body.json"

echo "== becknd verify (one byte changed: python -> Python)"
sed 's/python/Python/' "$tmp/body.json" >"$tmp/tampered.json"
if "$bin" verify --public-key "$pub" --authorization "$(cat "$tmp/auth")" \
    <"$tmp/tampered.json"; then
	echo "becknd demo: a tampered body verified" >&2
	exit 1
fi
echo "becknd demo: done"
