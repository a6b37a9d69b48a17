#!/usr/bin/env bash
# `make demo`: the operator's main job end to end on a local 3-zone cluster. Brings the cluster up
# (building its binaries once), installs the CRD, runs the operator, applies examples/, shows the sites
# becoming redundant and one at risk because of its database, runs `spofless audit` and the kubectl
# plugin (what losing the database's zone would do, why the catalog is at risk), takes zone-b down
# and brings it back to show failover and failback, then scales the site with kubectl scale and evacuates
# zone-b for 30 s, then rolls out a bad image (halted in one zone, the others keep serving) and the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/tools.sh
NS=${SPOFLESS_DEMO_NAMESPACE:-demo}
CHAOS=node-not-ready.stage.kwok.x-k8s.io

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "local cluster (the first run builds Kubernetes, etcd and kwok: many minutes; later runs reuse them)"
eval "$(hack/cluster.sh up | tail -n 1)"
eval "$(hack/cluster.sh env)"

step "CRD and operator"
kubectl apply --server-side -f crds/ >/dev/null
wait_crds_established
log_file=$SPOFLESS_CACHE/demo-operator.log
.venv/bin/spofless run --standalone --liveness http://127.0.0.1:18081/healthz --metrics-port 0 >"$log_file" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null || true' EXIT
echo "operator running (pid $operator), log: $log_file"

show() {
  kubectl get rsite -n "$NS"
  echo
  kubectl get pods -n "$NS" -L spofless.dev/zone --sort-by=.spec.nodeName \
    -o custom-columns='POD:.metadata.name,ZONE:.metadata.labels.spofless\.dev/zone,NODE:.spec.nodeName,PHASE:.status.phase,READY:.status.conditions[?(@.type=="Ready")].status'
  echo
  kubectl get nodes -L topology.kubernetes.io/zone --no-headers |
    awk '{ n[$6]++; if ($2 == "Ready") r[$6]++ } END { printf "nodes Ready:"; for (z in n) printf "  %s %d/%d", z, r[z], n[z]; print "" }' 
}

# until_phase SITE PHASE SECONDS: waits, showing progress, until the site reports PHASE.
until_phase() {
  local i
  for ((i = 0; i < $3; i += 3)); do
    [[ $(kubectl get rsite "$1" -n "$NS" -o jsonpath='{.status.phase}' 2>/dev/null) == "$2" ]] && return 0
    kubectl get rsite -n "$NS" --no-headers 2>/dev/null | sed 's/^/  /'
    sleep 3
  done
  die "$1 did not reach $2 within $3 s; see $log_file"
}

# until_failed_back EVENTS: waits for shop's failover to end and the site to be Redundant, then shows
# it and its last EVENTS events.
until_failed_back() {
  local i
  for ((i = 0; i < 60; i++)); do
    [[ $(kubectl get rsite shop -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="FailoverActive")].status}') == False ]] && break
    sleep 3
  done
  until_phase shop Redundant 120
  show
  echo
  kubectl get events -n "$NS" --field-selector involvedObject.name=shop --sort-by=.lastTimestamp | tail -n "$1"
}

step "apply examples/ in namespace $NS"
# A fresh namespace each run, so the events shown are this run's.
kubectl delete namespace "$NS" --ignore-not-found --timeout=120s >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl apply -n "$NS" -f examples/
until_phase shop Redundant 120
show
echo
kubectl get rsite shop -n "$NS" -o jsonpath='{.status.message}{"\n"}{range .status.zoneLoss[*]}  losing {.zone} leaves {.readyReplicasLeft} ready replicas{"\n"}{end}'

step "catalog: a spread web tier in front of a one-pod database (examples/catalog.yaml)"
until_phase catalog AtRisk 120
kubectl get rsite catalog -n "$NS" -o jsonpath='{.status.message}{"\n"}{range .status.singlePointsOfFailure[*]}  {.severity} {.scope} {.name}: {.message}{"\n"}{end}{range .status.dependencies[*]}  dependency {.service}: {.readyEndpoints} ready endpoint(s) {.zones}, workloads {.workloads}{"\n"}{end}{range .status.zoneLoss[*]}  losing {.zone} leaves {.readyReplicasLeft} web replicas and {.dependencies[0].readyEndpointsLeft} store endpoints: down={.down}{"\n"}{end}'

step "spofless audit -n $NS: the same rules over every workload, spofless' or not (read-only)"
.venv/bin/spofless audit -n "$NS" || true   # exits 1: the store is a single point of failure

step "kubectl spofless (the plugin): what losing the store's zone would do, and why catalog is AtRisk"
store_node=$(kubectl get pods -n "$NS" -l app=store -o jsonpath='{.items[0].spec.nodeName}')
store_zone=$(kubectl get node "$store_node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')
PATH="$PWD/.venv/bin:$PATH" kubectl spofless whatif --lose "$store_zone" -n "$NS" || true # exits 1: things go down
PATH="$PWD/.venv/bin:$PATH" kubectl spofless explain catalog -n "$NS"

step "zone-b goes down (KWOK marks its nodes NotReady)"
kubectl label nodes -l topology.kubernetes.io/zone=zone-b "$CHAOS=true" >/dev/null
until_phase shop Degraded 120
kubectl get rsite shop -n "$NS" -o jsonpath='{.status.message}{"\n"}{range .status.conditions[?(@.type=="FailoverActive")]}{.message}{"\n"}{end}'
echo "waiting for the moved replicas to be ready in the other zones..."
for ((i = 0; i < 60; i++)); do
  [[ $(kubectl get rsite shop -n "$NS" -o jsonpath='{.status.readyReplicas}') == 6 ]] && break
  sleep 2
done
show
echo
kubectl get events -n "$NS" --field-selector involvedObject.name=shop --sort-by=.lastTimestamp | tail -n 6

step "zone-b comes back; replicas return after failbackAfterSeconds (20 s in examples/shop.yaml)"
kubectl label nodes -l topology.kubernetes.io/zone=zone-b "$CHAOS-" >/dev/null
until_failed_back 4

step "kubectl scale rsite shop --replicas=9: the zones stay even"
kubectl scale rsite shop -n "$NS" --replicas=9
for ((i = 0; i < 60; i++)); do
  [[ $(kubectl get rsite shop -n "$NS" -o jsonpath='{.status.readyReplicas}') == 9 ]] && break
  sleep 2
done
until_phase shop Redundant 120
kubectl get rsite shop -n "$NS" -o jsonpath='{range .status.zones[*]}  {.name}: {.readyReplicas} ready of {.desiredReplicas}{"\n"}{end}'
kubectl get rsite shop -n "$NS" -o jsonpath='  /scale: spec {.spec.replicas}, status {.status.replicas}, selector {.status.selector}{"\n"}'

step "evacuate zone-b for 30 s: capacity is ready elsewhere before zone-b's pods go"
until=$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)
kubectl patch rsite shop -n "$NS" --type merge -p "{\"spec\":{\"failover\":{\"evacuate\":[{\"zone\":\"zone-b\",\"until\":\"$until\"}]}}}"
lowest=9
for ((i = 0; i < 120; i++)); do
  ready=$(kubectl get rsite shop -n "$NS" -o jsonpath='{.status.readyReplicas}')
  ((ready < lowest)) && lowest=$ready
  [[ $(kubectl get rsite shop -n "$NS" -o jsonpath='{.status.evacuations[0].state}') == Evacuated ]] && break
  sleep 1
done
kubectl get rsite shop -n "$NS" -o jsonpath='{.status.evacuations[0].message}{"\n"}{range .status.zones[*]}  {.name}: {.readyReplicas} ready of {.desiredReplicas} {.cause}{"\n"}{end}'
echo "lowest ready count seen by this script during the move: $lowest of 9"
echo "at $until the evacuation ends and zone-b fails back after failbackAfterSeconds..."
until_failed_back 5

# until_rollout SITE PHASE SECONDS: waits, showing the rollout's progress, until it reports PHASE.
until_rollout() {
  local i
  for ((i = 0; i < $3; i += 2)); do
    [[ $(kubectl get rsite "$1" -n "$NS" -o jsonpath='{.status.rollout.phase}' 2>/dev/null) == "$2" ]] && return 0
    kubectl get rsite "$1" -n "$NS" -o jsonpath='  {.status.rollout.phase}: {.status.rollout.message}{"\n"}' 2>/dev/null
    sleep 2
  done
  die "$1's rollout did not reach $2 within $3 s; see $log_file"
}

image() {
  kubectl patch rsite shop -n "$NS" --type=json -p "[{\"op\": \"replace\", \"path\": \"/spec/rollout/bakeSeconds\", \"value\": 5},
    {\"op\": \"replace\", \"path\": \"/spec/template/spec/containers/0/image\", \"value\": \"$1\"}]" >/dev/null
}

step "a bad release: an image tag that does not exist (KWOK reports ErrImagePull)"
image nginxinc/nginx-unprivileged:missing
until_rollout shop Halted 90
kubectl get rsite shop -n "$NS" -o jsonpath='{.status.rollout.message}{"\n"}'
echo
show
echo
kubectl get events -n "$NS" --field-selector involvedObject.name=shop --sort-by=.lastTimestamp | grep Rollout | tail -n 4

step "the fix rolls through one zone at a time (bake 5 s per zone)"
image nginxinc/nginx-unprivileged:1.28
until_rollout shop Complete 180
until_phase shop Redundant 60
show
echo
kubectl get events -n "$NS" --field-selector involvedObject.name=shop --sort-by=.lastTimestamp | grep Rollout | tail -n 5

step "done"
cat <<EOT
The cluster keeps running. To look around:
  $(hack/cluster.sh env)
  kubectl get rsite -A; kubectl describe rsite shop -n $NS
To tear everything down:
  hack/cluster.sh down      (or: make cluster-down)
EOT
