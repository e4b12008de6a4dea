#!/bin/sh
# Makes the certificates of the mtls-manual overlay with openssl: a CA, one server certificate
# shared by the ipamd servers (server and client auth: servers dial each other with it), and one
# client certificate for the agents. Writes ca.crt, ca.key, server.crt, server.key, agent.crt and
# agent.key into --out (created; existing files are not overwritten), then prints the kubectl
# commands that store them as the Secrets the overlay mounts.
#
# Usage: make-certs.sh [--out DIR] [--namespace ipamd-system] [--days 365]
#
# The server certificate names every address a server is dialled by:
#   ipam-servers.<ns>.svc                      the name agents expect (IPAMD_TLS_SERVER_NAME)
#   *.ipamd-server.<ns>.svc[.cluster.local]    each server's advertise address (headless Service)
#   localhost                                  `ipamd cluster ...` inside a server pod
# Keep ca.key offline: it is needed only to make the next certificates.
set -eu

out=./ipamd-certs
namespace=ipamd-system
days=365
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --namespace) namespace=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "make-certs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl not found" >&2; exit 1; }
mkdir -p "$out"
for f in ca.crt ca.key server.crt server.key agent.crt agent.key; do
  [ ! -e "$out/$f" ] || { echo "make-certs.sh: $out/$f exists; choose another --out" >&2; exit 1; }
done
cd "$out"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=ipamd CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt

sign() { # name subject extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
    -days "$days" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

sign server "/CN=ipamd-server" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:ipam-servers.$namespace.svc,DNS:*.ipamd-server.$namespace.svc,DNS:*.ipamd-server.$namespace.svc.cluster.local,DNS:localhost"
sign agent "/CN=ipamd-agent" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 0644 ca.crt server.crt agent.crt

cat <<EOF
Wrote $out/{ca,server,agent}.{crt,key}. Store them for the mtls-manual overlay:

kubectl create namespace $namespace --dry-run=client -o yaml | kubectl apply -f -
kubectl -n $namespace create secret generic ipamd-server-tls \\
  --from-file=tls.crt=$out/server.crt --from-file=tls.key=$out/server.key --from-file=ca.crt=$out/ca.crt
kubectl -n $namespace create secret generic ipamd-agent-tls \\
  --from-file=tls.crt=$out/agent.crt --from-file=tls.key=$out/agent.key --from-file=ca.crt=$out/ca.crt
EOF
