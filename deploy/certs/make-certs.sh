#!/bin/sh
# Makes the certificates of the mtls-manual overlay with openssl: a CA, one server certificate
# shared by the ipamd servers (server and client auth: servers dial each other with it), one
# client certificate per node for the agents, and an operator certificate for `ipamd cluster ...`
# from your workstation. Writes ca.{crt,key}, server.{crt,key}, operator.{crt,key} and
# node-<name>.{crt,key} for each --nodes name into --out (created; existing files are not
# overwritten), then prints the kubectl commands that store them as the Secrets the overlay mounts.
#
# Usage: make-certs.sh --nodes NODE[,NODE...] [--out DIR] [--namespace ipamd-system]
#                      [--trust-domain ipamd.local] [--days 365]
#
# ipamd authorises every call by the identity in the client certificate (docs/operations.md,
# "Identities"): SAN URI spiffe://<trust-domain>/server/ipamd-server for the servers,
# spiffe://<trust-domain>/node/<name> for the agent of Kubernetes node <name> (its --node-id,
# spec.nodeName), spiffe://<trust-domain>/operator/admin for the operator.
# The server certificate names every address a server is dialled by:
#   ipam-servers.<ns>.svc                      the name agents expect (IPAMD_TLS_SERVER_NAME)
#   *.ipamd-server.<ns>.svc[.cluster.local]    each server's advertise address (headless Service)
#   localhost                                  `ipamd cluster ...` inside a server pod
# A node added later needs its own certificate signed by the same ca.key (openssl, as in sign()
# below) added to the agents' Secret; until then its agent is refused. Every agent mounts the
# whole Secret (a DaemonSet cannot pick a Secret per node), so a node's root can read the other
# nodes' keys. Keep ca.key offline: it is needed only to make the next certificates.
set -eu

out=./ipamd-certs
namespace=ipamd-system
trust_domain=ipamd.local
nodes=
days=365
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --namespace) namespace=$2; shift 2 ;;
    --trust-domain) trust_domain=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "make-certs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$nodes" ] || {
  echo "make-certs.sh: --nodes NODE[,NODE...] is required: each agent needs a certificate naming its node (see --help)" >&2
  exit 2
}
node_list=$(printf '%s' "$nodes" | tr ',' ' ')
for n in $node_list; do
  printf '%s' "$n" | grep -Eq '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' || {
    echo "make-certs.sh: --nodes: \"$n\" is not a Kubernetes node name" >&2
    exit 2
  }
done
command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl not found" >&2; exit 1; }
mkdir -p "$out"
for f in ca.crt ca.key server.crt server.key operator.crt operator.key; do
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
subjectAltName=URI:spiffe://$trust_domain/server/ipamd-server,DNS:ipam-servers.$namespace.svc,DNS:*.ipamd-server.$namespace.svc,DNS:*.ipamd-server.$namespace.svc.cluster.local,DNS:localhost"
sign operator "/CN=admin" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:spiffe://$trust_domain/operator/admin"
agent_files=
for n in $node_list; do
  sign "node-$n" "/CN=$n" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:spiffe://$trust_domain/node/$n"
  chmod 0644 "node-$n.crt"
  agent_files="$agent_files --from-file=$n.crt=$out/node-$n.crt --from-file=$n.key=$out/node-$n.key"
done
rm -f ca.srl
chmod 0644 ca.crt server.crt operator.crt

cat <<EOF
Wrote $out/{ca,server,operator}.{crt,key} and $out/node-{$(printf '%s' "$nodes")}.{crt,key}.
Store them for the mtls-manual overlay (each agent reads <its node>.crt from ipamd-agent-tls):

kubectl create namespace $namespace --dry-run=client -o yaml | kubectl apply -f -
kubectl -n $namespace create secret generic ipamd-server-tls \\
  --from-file=tls.crt=$out/server.crt --from-file=tls.key=$out/server.key --from-file=ca.crt=$out/ca.crt
kubectl -n $namespace create secret generic ipamd-agent-tls \\
 $agent_files --from-file=ca.crt=$out/ca.crt
EOF
