#!/usr/bin/env bash
# soak.sh — load and soak test of one model server (issue 19): N concurrent
# `autorep infer` clients, each running M private inferences of test images
# over one session, against one `autorep serve` (and one `autorep dealer`
# in the dealer suite), real processes over loopback TCP, sampling the
# resident memory (VmRSS) of every process and the servers' metrics over
# time.
#
# Usage:
#   scripts/soak.sh [--clients N] [--inferences M] [--suite dealer|twoparty]
#       [--tls] [--tokens] [--model FILE] [--dataset D] [--interval SECONDS]
#       [--pool P] [--client-pool P] [--bin PATH] [--out DIR] [-- SERVE-ARGS...]
#
#   --clients     concurrent clients (default 32)
#   --inferences  inferences per client, one session each (default 200)
#   --suite       dealer (default: dealer, server and clients) or twoparty
#                 (server and clients, no third party)
#   --tls         TLS on every connection, each role its own fresh key: the
#                 server's certificate verifies the server; in the dealer
#                 suite the dealer has its own certificate, which the
#                 clients pin (--dealer-ca), admits the server by a client
#                 certificate of its --server-ca and every client by a join
#                 ticket (--ticket-key shared with the server), and
#                 enforces the server's registered plan (--require-plan).
#                 Default: insecure loopback (plain TCP)
#   --tokens      serve --token-file: each client its own token (serve
#                 --gen-client-token), listed with sessions=1
#   --model       model served (default models/lenet-mnist.safetensors)
#   --dataset     dataset of the test images (default mnist); client k
#                 classifies images k*M .. k*M+M-1 (mod the test set)
#   --interval    sampling period in seconds (default 2)
#   --pool        dealer suite: serve --pool (default 2)
#   --client-pool infer --pool: dealer suite, inferences whose material each
#                 client fetches when its session opens (default 2);
#                 twoparty suite, inferences whose offline phase runs ahead
#                 of their image (default: infer's, all of them)
#   --bin         autorep binary (default ./bin/autorep)
#   --out         directory for the results (default ./soak-results)
#   SERVE-ARGS    more arguments for autorep serve (e.g. --frac 9 --ell 30)
#
# Output in OUT: rss.csv (time s, dealer/serve RSS MiB (dealer 0 in the
# twoparty suite), clients running and their summed RSS MiB, serve's
# inferences_total, material held and bytes_total from its --metrics
# endpoint), client-K.json (infer --json), the processes' logs,
# metrics-{start,end}-{serve,dealer}.txt, and summary.json (throughput,
# latency p50/p99 of online and online+offline time per inference, RSS of
# dealer and serve after warm-up (first quarter of the run) and at the end).
# The summary JSON also goes to stdout. Exit status 0 only if every client
# finished all its inferences.
#
# The issue's full size is the default, 32 x 200, for an idle machine; on a
# loaded 2-core machine use e.g. --clients 8 --inferences 50.
set -euo pipefail

clients=32
inferences=200
suite=dealer
tls=0
tokens=0
model=models/lenet-mnist.safetensors
dataset=mnist
interval=2
pool=2
cpool=
bin=./bin/autorep
out=./soak-results

while [ $# -gt 0 ]; do
	case "$1" in
	--clients) clients=$2; shift 2 ;;
	--inferences) inferences=$2; shift 2 ;;
	--suite) suite=$2; shift 2 ;;
	--tls) tls=1; shift ;;
	--tokens) tokens=1; shift ;;
	--model) model=$2; shift 2 ;;
	--dataset) dataset=$2; shift 2 ;;
	--interval) interval=$2; shift 2 ;;
	--pool) pool=$2; shift 2 ;;
	--client-pool) cpool=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,50p' "$0"; exit 0 ;;
	--) shift; break ;;
	*) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
	esac
done
serveargs=("$@")
[ "$suite" = dealer ] || [ "$suite" = twoparty ] || { echo "soak.sh: --suite must be dealer or twoparty" >&2; exit 1; }
[ -n "$cpool" ] || [ "$suite" = twoparty ] || cpool=2
for v in "$clients" "$inferences" "$pool" "${cpool:-0}"; do
	case "$v" in '' | *[!0-9]*) echo "soak.sh: --clients, --inferences, --pool and --client-pool take whole numbers" >&2; exit 1 ;; esac
done
[ "$clients" -ge 1 ] && [ "$inferences" -ge 1 ] || { echo "soak.sh: --clients and --inferences must be at least 1" >&2; exit 1; }
[ -x "$bin" ] || { echo "soak.sh: no binary $bin (make build, or --bin)" >&2; exit 1; }
[ -f "$model" ] || { echo "soak.sh: no model $model" >&2; exit 1; }
command -v python3 >/dev/null || { echo "soak.sh: python3 is needed for the summary" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out"/client-*.json "$out"/client-*.log

pids=()
cpids=()
cleanup() {
	for p in "${cpids[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# addr LOG WORD: the address a daemon logged after WORD ("listening on",
# "metrics on http://").
addr() {
	local i
	for i in $(seq 1 600); do
		if grep -q "$2" "$1" 2>/dev/null; then
			grep -o "$2[^ /,]*" "$1" | head -1 | sed "s#$2##"
			return 0
		fi
		sleep 0.1
	done
	echo "soak.sh: no '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# Fresh keys, one per role (docs/SECURITY.md: keys are never shared
# between roles), under OUT/keys.
keys="$out/keys"
rm -rf "$keys"
dealerargs=()
serveargs+=(--suite "$suite")
clientargs=(--suite "$suite")
if [ "$tls" = 1 ]; then
	mkdir -p "$keys"
	"$bin" dealer --gen-cert "$keys/server" 2>/dev/null
	serveargs+=(--tls-cert "$keys/server/cert.pem" --tls-key "$keys/server/key.pem")
	clientargs+=(--tls-ca "$keys/server/cert.pem")
	if [ "$suite" = dealer ]; then
		"$bin" dealer --gen-cert "$keys/dealer" 2>/dev/null
		"$bin" dealer --gen-server-ca "$keys/ca" 2>/dev/null
		"$bin" dealer --gen-server-cert "$keys/server-client" --server-ca "$keys/ca/ca.pem" --server-ca-key "$keys/ca/ca-key.pem" 2>/dev/null
		"$bin" dealer --gen-ticket-key "$keys/ticket.key" 2>/dev/null
		dealerargs+=(--tls-cert "$keys/dealer/cert.pem" --tls-key "$keys/dealer/key.pem" --server-ca "$keys/ca/ca.pem"
			--ticket-key "$keys/ticket.key" --require-plan)
		serveargs+=(--tls-ca "$keys/dealer/cert.pem" --dealer-cert "$keys/server-client/client-cert.pem"
			--dealer-key "$keys/server-client/client-key.pem" --dealer-ticket-key "$keys/ticket.key")
	fi
else
	dealerargs+=(--insecure)
	serveargs+=(--insecure)
	clientargs+=(--insecure)
fi
if [ "$tokens" = 1 ]; then
	mkdir -p "$keys"
	: >"$keys/tokens"
	for k in $(seq 0 $((clients - 1))); do
		line=$("$bin" serve --gen-client-token "$keys/client-$k.token" --client-name "client-$k" 2>/dev/null)
		echo "$line sessions=1" >>"$keys/tokens"
	done
	serveargs+=(--token-file "$keys/tokens")
fi

dealer_pid=
dealer_metrics=
if [ "$suite" = dealer ]; then
	"$bin" dealer --listen 127.0.0.1:0 "${dealerargs[@]}" --metrics 127.0.0.1:0 --quiet 2>"$out/dealer.log" &
	dealer_pid=$!
	pids+=("$dealer_pid")
	dealer_addr=$(addr "$out/dealer.log" "listening on ")
	dealer_metrics=$(addr "$out/dealer.log" "metrics on http://")
	serveargs+=(--dealer "$dealer_addr" --pool "$pool")
	clientargs+=(--dealer "$dealer_addr")
	[ "$tls" = 0 ] || clientargs+=(--dealer-ca "$keys/dealer/cert.pem")
fi
"$bin" serve --model "$model" --listen 127.0.0.1:0 "${serveargs[@]}" \
	--max-sessions $((clients + 8)) --metrics 127.0.0.1:0 --quiet 2>"$out/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
serve_addr=$(addr "$out/serve.log" "listening on ")
serve_metrics=$(addr "$out/serve.log" "metrics on http://")
[ "$suite" = twoparty ] || sleep 2 # the pool fills

py=$(python3 -c 'import sys; print(sys.executable)') # past any version-manager shim: sampling stays cheap
if command -v curl >/dev/null; then
	scrape() { curl -fsS --max-time 5 "http://$1/metrics"; }
else
	scrape() { "$py" -c 'import sys,urllib.request; print(urllib.request.urlopen("http://"+sys.argv[1]+"/metrics", timeout=5).read().decode())' "$1"; }
fi
metric() { awk -v n="$2" '$1 == n { print $2 }' <<<"$1"; }
rss() {
	[ -n "$1" ] && awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0
}
scrape "$serve_metrics" >"$out/metrics-start-serve.txt"
[ -z "$dealer_metrics" ] || scrape "$dealer_metrics" >"$out/metrics-start-dealer.txt"

total=10000 # test images of MNIST, Fashion-MNIST and CIFAR-10
t0=$(date +%s.%N)
for k in $(seq 0 $((clients - 1))); do
	idx=$(((k * inferences) % (total - inferences + 1)))
	cargs=("${clientargs[@]}")
	[ -z "$cpool" ] || cargs+=(--pool "$cpool")
	[ "$tokens" = 0 ] || cargs+=(--token-file "$keys/client-$k.token")
	"$bin" infer --server "$serve_addr" "${cargs[@]}" --dataset "$dataset" \
		--index "$idx" --count "$inferences" --json >"$out/client-$k.json" 2>"$out/client-$k.log" &
	cpids+=($!)
done

echo "t_s,dealer_rss_mib,serve_rss_mib,clients_running,clients_rss_mib,serve_inferences,serve_material_held_mib,serve_bytes" >"$out/rss.csv"
sample() {
	local now running=0 crss=0 p m
	now=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
	for p in "${cpids[@]}"; do
		if [ -e "/proc/$p/status" ]; then
			running=$((running + 1))
			crss=$(awk -v a="$crss" -v b="$(rss "$p")" 'BEGIN { print a + b }')
		fi
	done
	m=$(scrape "$serve_metrics" 2>/dev/null || true)
	echo "$now,$(rss "$dealer_pid"),$(rss "$serve_pid"),$running,$crss,$(metric "$m" autorep_serve_inferences_total),$(awk -v a="$(metric "$m" autorep_serve_material_held_bytes)" 'BEGIN { printf "%.1f", a / 1048576 }'),$(metric "$m" autorep_serve_bytes_total)" >>"$out/rss.csv"
	[ "$running" -gt 0 ]
}
while sample; do sleep "$interval"; done
fail=0
for p in "${cpids[@]}"; do wait "$p" || fail=$((fail + 1)); done
t1=$(date +%s.%N)
sleep "$interval"
sample || true # after the clients: what the servers keep
scrape "$serve_metrics" >"$out/metrics-end-serve.txt"
[ -z "$dealer_metrics" ] || scrape "$dealer_metrics" >"$out/metrics-end-dealer.txt"

"$py" - "$out" "$clients" "$inferences" "$t0" "$t1" "$fail" "$suite" "$tls" "$tokens" <<'EOF'
import csv, glob, json, sys
out, clients, inferences, t0, t1, fail = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
suite, tls, tokens = sys.argv[7], sys.argv[8] == "1", sys.argv[9] == "1"
online, total = [], []
for f in glob.glob(out + "/client-*.json"):
    try:
        r = json.load(open(f))
    except ValueError:
        continue
    for im in r.get("images", []):
        online.append(im["latency_ms"]["online"])
        total.append(im["latency_ms"]["online"] + im["latency_ms"]["offline"])
def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(p / 100 * len(v)))], 1) if v else None
rows = list(csv.DictReader(open(out + "/rss.csv")))
busy = [r for r in rows if int(r["clients_running"]) > 0]
warm = busy[len(busy) // 4] if busy else None
end = busy[-1] if busy else None
after = rows[-1] if rows else None
def mib(r, k):
    return float(r[k]) if r else None
wall = t1 - t0
s = {
    "suite": suite, "tls": tls, "client_tokens": tokens,
    "clients": clients, "inferences_per_client": inferences, "clients_failed": fail,
    "inferences_done": len(total), "wall_s": round(wall, 1),
    "throughput_per_s": round(len(total) / wall, 2) if wall > 0 else None,
    "latency_ms": {"online_p50": pct(online, 50), "online_p99": pct(online, 99), "total_p50": pct(total, 50), "total_p99": pct(total, 99)},
    "rss_mib": {
        "dealer_after_warmup": mib(warm, "dealer_rss_mib"), "dealer_end": mib(end, "dealer_rss_mib"), "dealer_max": max((float(r["dealer_rss_mib"]) for r in rows), default=None),
        "serve_after_warmup": mib(warm, "serve_rss_mib"), "serve_end": mib(end, "serve_rss_mib"), "serve_max": max((float(r["serve_rss_mib"]) for r in rows), default=None),
        "dealer_after_clients": mib(after, "dealer_rss_mib"), "serve_after_clients": mib(after, "serve_rss_mib"),
        "clients_sum_max": max((float(r["clients_rss_mib"]) for r in rows), default=None),
    },
    "samples": len(rows),
}
json.dump(s, open(out + "/summary.json", "w"), indent=1)
print(json.dumps(s, indent=1))
sys.exit(0 if fail == 0 and len(total) == clients * inferences else 1)
EOF
