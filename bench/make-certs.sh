#!/usr/bin/env bash
# bench/make-certs.sh DIR: a throw-away CA (DIR/ca.pem) and a certificate for 127.0.0.1 and
# localhost signed by it (DIR/server.pem, DIR/server.key), for the HTTPS upstream of
# bench/run.sh and bench/callgrind.sh. Needs the openssl CLI. openssl's output goes to stderr.
set -euo pipefail
mkdir -p "$1"
cd "$1"
{
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=capproxy bench CA" \
        -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out server.pem
} 1>&2
