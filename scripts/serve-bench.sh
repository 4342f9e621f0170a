#!/usr/bin/env bash
# serve-bench.sh — private inference of N test images with OS processes over
# loopback TCP with TLS: autorep dealer, autorep serve, autorep infer (suite
# dealer), or autorep serve --suite twoparty and autorep infer (no dealer),
# checked against the model owner's plaintext labels (autorep eval
# --predictions), with latency, bytes, rounds, dealer material and each
# process's peak RSS.
#
# Usage:
#   scripts/serve-bench.sh --model FILE --dataset D [--n N] [--suite dealer|twoparty] [--link loopback|lan|wan]
#       [--index I] [--stride S|auto] [--server-pool P] [--client-pool P]
#       [--frac F] [--ell L] [--pbits B] [--timeout DUR] [--bin PATH] [--out DIR] [--label TEXT]
#       [--table] [--force]
#
#   --model        model file served (required)
#   --dataset      dataset of the test images (required; e.g. mnist, cifar10)
#   --n            number of test images (default 20)
#   --suite        dealer (default: three processes) or twoparty (server and
#                  client only)
#   --link         loopback (default), or lan / wan: every process shapes its
#                  outgoing traffic with --emulate-link (3 Gbit/s, 0.3 ms RTT /
#                  400 Mbit/s, 40 ms RTT; DESIGN §2.4), the fallback
#                  scripts/netem.sh uses where the kernel has no netem qdisc
#   --index        first test image (default 0)
#   --stride       step between images (default auto: test size / N, so the
#                  images cover every class of sorted ImageFolder sets such as
#                  the CIFAR-10 JPEG copy)
#   --server-pool  serve --pool (dealer suite; default 2); --client-pool: infer --pool
#                  (dealer suite, default 1: the session prefetches one
#                  inference's material, later ones are fetched per inference,
#                  in the offline phase; twoparty suite, default N: every
#                  inference's offline phase runs ahead of its image, the first
#                  when the session opens, each next after the previous one —
#                  the offline ms and bytes are then the prepares', and
#                  --client-pool P < N leaves images P+1.. to run theirs after
#                  their request)
#   --frac         fixed-point fractional bits of the served plan and of the
#                  owner's fixed-point labels (serve/eval --frac; default 16)
#   --ell          bit width of the served plan's gates (serve --ell; default
#                  0: 64); the twoparty suite's shares are then over Z_2^L
#   --pbits        twoparty suite: bit width of the polynomials' HE prime
#                  (serve --pbits; default 0: 3·frac + 10)
#   --timeout      read/write timeout of every connection (default 10m)
#   --bin          autorep binary (default ./bin/autorep)
#   --out          directory for the reports (default ./serve-bench-results)
#   --label        model name in the markdown row (default the file name)
#   --table        print the twoparty process table's row (docs/BENCHMARKS.md,
#                  session 14) instead of the default markdown row
#   --force        run even if this cell's summary JSON exists (by default a
#                  finished cell is not run again: its summary and row are
#                  printed from the JSON, so a stopped series of runs resumes)
#
# Output: OUT/NAME-LINK-N.json (twoparty: OUT/NAME-twoparty-LINK-N.json;
# -iI appended when --index I is not 0; summary), .infer.json, .eval.json, the
# processes' logs; the summary JSON on stdout and a markdown table row on
# stderr. Exit status 0 only if every private label equals the plaintext
# (float) label; 3 if some differ; 1 on any other failure. Certificates go to
# a temporary directory (dealer and server each have their own key: the
# client verifies the dealer with the dealer's certificate only and pins its
# address); the dealer and server are stopped (SIGTERM) on exit,
# errors and Ctrl-C. Peak RSS: VmHWM of the dealer and server (read from
# /proc just before they are stopped), /usr/bin/time's maximum RSS for the
# client; CPU seconds likewise (/proc/PID/stat, /usr/bin/time), summed over
# the three processes and divided by N in cpu_seconds_per_inference (a
# figure that load on the machine does not inflate, unlike latencies).
#
# The summary also holds the binary's sha256, the UTC start and end of the
# run and the load average (1 min) at both, and the bytes per image: setup
# (the session's opening), total for one image in a session of its own
# (setup + offline + online) and amortized over the session's N images.
#
# Markdown row: model | suite | link | N | labels equal to plaintext | online ms
# mean / median / p90 / min | online bytes | rounds | offline ms (mean) |
# material per inference | session open | peak RSS dealer / server / client
# | CPU s per inference (all processes). Twoparty suite: offline ms (mean, and
# how many images ran it ahead) | offline bytes per inference | session open |
# peak RSS server / client | CPU s per inference.
set -euo pipefail

model=
dataset=
n=20
suite=dealer
link=loopback
index=0
stride=auto
spool=2
cpool=
timeout=10m
frac=0
ell=0
pbits=0
bin=./bin/autorep
out=./serve-bench-results
label=
table=0
force=0
while [ $# -gt 0 ]; do
	case "$1" in
	--model) model=$2; shift ;;
	--dataset) dataset=$2; shift ;;
	--n) n=$2; shift ;;
	--suite) suite=$2; shift ;;
	--link) link=$2; shift ;;
	--index) index=$2; shift ;;
	--stride) stride=$2; shift ;;
	--server-pool) spool=$2; shift ;;
	--client-pool) cpool=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--frac) frac=$2; shift ;;
	--ell) ell=$2; shift ;;
	--pbits) pbits=$2; shift ;;
	--bin) bin=$2; shift ;;
	--out) out=$2; shift ;;
	--label) label=$2; shift ;;
	--table) table=1 ;;
	--force) force=1 ;;
	-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0"; exit 0 ;;
	*) echo "serve-bench.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
	esac
	shift
done

die() { echo "serve-bench.sh: $*" >&2; exit 1; }
[ -n "$model" ] || die "--model FILE is required"
[ -n "$dataset" ] || die "--dataset D is required"
[ -f "$model" ] || die "no model file $model"
[ -x "$bin" ] || die "no autorep binary at $bin (go build -o bin/autorep ./cmd/autorep, or --bin)"
command -v python3 > /dev/null || die "python3 is needed for the summary"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--n must be a positive integer"
[[ "$ell" =~ ^[0-9]+$ ]] || die "--ell must be a non-negative integer"
[[ "$index" =~ ^[0-9]+$ ]] || die "--index must be a non-negative integer"
[[ "$stride" = auto || "$stride" =~ ^[1-9][0-9]*$ ]] || die "--stride must be auto or a positive integer"
[ "$suite" = dealer ] || [ "$suite" = twoparty ] || die "--suite must be dealer or twoparty"
if [ -z "$cpool" ]; then
	cpool=1
	[ "$suite" = dealer ] || cpool=$n
fi
[[ "$cpool" =~ ^[0-9]+$ ]] || die "--client-pool must be a non-negative integer"
emu=()
case "$link" in
loopback) ;;
lan | wan) emu=(--emulate-link "$link") ;;
*) die "--link must be loopback, lan or wan" ;;
esac
bin=$(realpath "$bin")
model=$(realpath "$model")
mkdir -p "$out"
out=$(realpath "$out")
[ -n "$label" ] || label=$(basename "$model" .safetensors)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/serve-bench.XXXXXX")
pids=()
cleanup() {
	local rc=$?
	set +e
	for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$stride" = auto ]; then
	total=$("$bin" data info "$dataset" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["test"]["n"])')
	stride=$(( (total - index) / n ))
	[ "$stride" -ge 1 ] || die "--index $index --n $n: the test split of $dataset has only $total images"
fi
base="$out/$label-$link-$n"
[ "$suite" = dealer ] || base="$out/$label-$suite-$link-$n"
[ "$index" = 0 ] || base="$base-i$index"
range=(--dataset "$dataset" --index "$index" --count "$n" --stride "$stride")
echo "== $label on $dataset: $n test images (index $index, stride $stride), suite $suite, link $link" >&2

# summarise [RUN ARGS...]: with arguments, writes $base.json from the run's
# reports; prints the summary and the row from $base.json; exit 3 if some
# private label differs from the plaintext one.
summarise() {
	python3 - "$base" "$suite" "$table" "$@" << 'PY'
import json, math, sys
base, suite, table = sys.argv[1:4]
if len(sys.argv) > 4:
    (label, link, model, dataset, index, stride, dkb, skb, ckb, t0, t1,
     dcpu, scpu, ccpu, load0, load1, binsum) = sys.argv[4:]
    inf = json.load(open(base + ".infer.json"))
    ev = json.load(open(base + ".eval.json"))
    imgs = inf["images"] if "images" in inf else [inf]
    plain = {p["index"]: p for p in ev["predictions"]}
    n = len(imgs)
    equal = sum(1 for i in imgs if plain[i["index"]]["label"] == i["label"])
    fixed = sum(1 for i in imgs if plain[i["index"]].get("fixed_label") == i["label"])
    diff = [{"index": i["index"], "private": i["label"], "plaintext": plain[i["index"]]["label"],
             "fixed_point": plain[i["index"]].get("fixed_label")} for i in imgs if plain[i["index"]]["label"] != i["label"]]
    on = sorted(i["latency_ms"]["online"] for i in imgs)
    # The offline phase, whether it ran after the request or ahead of it (a
    # twoparty prepare, "prepare").
    off = sorted(i["latency_ms"]["offline"] + i["latency_ms"].get("prepare", 0) for i in imgs)
    offb = [i["bytes"]["offline"] + i["bytes"].get("prepare", 0) for i in imgs]
    def q(v, p):  # nearest rank, as autorep infer
        return v[max(0, min(len(v) - 1, math.ceil(p * len(v)) - 1))]
    mb = lambda kb: round(int(kb) / 1024, 1) if int(kb) > 0 else None
    utc = lambda t: __import__("datetime").datetime.fromtimestamp(float(t), __import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    s = {
        "model": model, "label": label, "suite": suite, "dataset": dataset, "link": link, "n": n,
        "index": int(index), "stride": int(stride), "arch": inf["arch"], "relus": inf["relus"],
        "binary_sha256": binsum,
        "labels_equal_plaintext": equal, "labels_equal_fraction": equal / n,
        "labels_equal_fixed_point": fixed, "differ": diff,
        "private_accuracy": sum(1 for i in imgs if i.get("true_label") == i["label"]) / n,
        "plaintext_accuracy": ev["accuracy"],
        "online_ms": {"mean": sum(on) / n, "median": q(on, 0.5), "p90": q(on, 0.9), "min": on[0], "max": on[-1]},
        "offline_ms_mean": sum(off) / n,
        "offline_ms_median": q(off, 0.5),
        "offline_bytes_per_inference": sum(offb) / n,
        "prepared": sum(1 for i in imgs if "prepare" in i["latency_ms"]),
        "prepare_ms_mean": sum(i["latency_ms"].get("prepare", 0) for i in imgs) / n,
        "online_bytes_per_inference": sum(i["bytes"]["online"] for i in imgs) / n,
        "rounds_per_inference": sum(i["rounds"] for i in imgs) / n,
        "material_bytes_per_inference": sum(i["bytes"]["material"] for i in imgs) / n,
        "session_open_ms": inf["connect"]["ms"], "session_open_bytes": inf["connect"]["bytes"],
        "session_open_material_bytes": inf["connect"]["material_bytes"],
        "client_wall_seconds": float(t1) - float(t0),
        "start_utc": utc(t0), "end_utc": utc(t1),
        "load_average": {"start": float(load0), "end": float(load1)},
        "peak_rss_mb": {"dealer": mb(dkb), "server": mb(skb), "client": mb(ckb)},
        # CPU seconds of each process over the whole run (dealer and server
        # include their pool's work and the session opening); no dealer in the
        # twoparty suite.
        "cpu_seconds": {"server": float(scpu) if scpu else None,
                        "client": float(ccpu) if ccpu and float(ccpu) > 0 else None},
    }
    per = s["offline_bytes_per_inference"] + s["online_bytes_per_inference"] + s["material_bytes_per_inference"]
    s["total_bytes_one_image_session"] = s["session_open_bytes"] + per
    s["total_bytes_amortized"] = s["session_open_bytes"] / n + per
    if suite == "dealer":
        s["cpu_seconds"]["dealer"] = float(dcpu) if dcpu else None
    if None not in s["cpu_seconds"].values():
        s["cpu_seconds_per_inference"] = sum(s["cpu_seconds"].values()) / n
    json.dump(s, open(base + ".json", "w"), indent=1)
s = json.load(open(base + ".json"))
print(json.dumps(s))
n, equal, label, link = s["n"], s["labels_equal_plaintext"], s["label"], s["link"]
o = s["online_ms"]
f = lambda x: "n/a" if x is None else f"{x:,.0f}"
cpu = s.get('cpu_seconds_per_inference', float('nan'))
if table == "1":
    # Session 14's process table: model | link | labels = plaintext | online
    # ms p50 / mean | offline ms p50 | total B (1-image session) | amortized
    # /N | setup B | offline B | online B | rounds | open ms | CPU-s / image
    # server / client | peak RSS MB server / client | time UTC, load start -> end
    c = s["cpu_seconds"]
    g = lambda k: "n/a" if c.get(k) is None else f"{c[k] / n:.2f}"
    r = s["peak_rss_mb"]
    la = s.get("load_average", {})
    print(f"| {label} | {link} | {equal}/{n} | {o['median']:,.0f} / {o['mean']:,.0f} | {s['offline_ms_median']:,.0f} | "
          f"{s['total_bytes_one_image_session']:,.0f} | {s['total_bytes_amortized']:,.0f} | {s['session_open_bytes']:,} | "
          f"{s['offline_bytes_per_inference']:,.0f} | {s['online_bytes_per_inference']:,.0f} | {s['rounds_per_inference']:.0f} | "
          f"{s['session_open_ms']:,.0f} | {g('server')} / {g('client')} | {f(r['server'])} / {f(r['client'])} | "
          f"{s['start_utc'][11:16]}–{s['end_utc'][11:16]}, {la.get('start', float('nan')):.2f} → {la.get('end', float('nan')):.2f} |",
          file=sys.stderr)
elif suite == "dealer":
    print(f"| {label} | {suite} | {link} | {n} | {equal}/{n} ({100*equal/n:.1f}%) | "
          f"{o['mean']:,.1f} / {o['median']:,.1f} / {o['p90']:,.1f} / {o['min']:,.1f} | "
          f"{s['online_bytes_per_inference']/1e6:,.2f} MB | {s['rounds_per_inference']:.0f} | {s['offline_ms_mean']:,.0f} | "
          f"{s['material_bytes_per_inference']/1e6:,.1f} MB | {s['session_open_ms']:,.0f} ms | "
          f"{f(s['peak_rss_mb']['dealer'])} / {f(s['peak_rss_mb']['server'])} / {f(s['peak_rss_mb']['client'])} MB | "
          f"{cpu:.2f} |", file=sys.stderr)
else:  # no material: the offline phase's bytes instead, and how many ran ahead
    print(f"| {label} | {suite} | {link} | {n} | {equal}/{n} ({100*equal/n:.1f}%) | "
          f"{o['mean']:,.1f} / {o['median']:,.1f} / {o['p90']:,.1f} / {o['min']:,.1f} | "
          f"{s['online_bytes_per_inference']/1e6:,.2f} MB | {s['rounds_per_inference']:.0f} | "
          f"{s['offline_ms_mean']:,.0f} ({s['prepared']}/{n} ahead) | {s['offline_bytes_per_inference']/1e6:,.2f} MB | "
          f"{s['session_open_ms']:,.0f} ms | {f(s['peak_rss_mb']['server'])} / {f(s['peak_rss_mb']['client'])} MB | "
          f"{cpu:.2f} |", file=sys.stderr)
diff = s["differ"]
if diff:
    print(f"serve-bench.sh: {len(diff)} private labels differ from the plaintext ones: {diff[:10]}", file=sys.stderr)
    sys.exit(3)
PY
}
if [ "$force" = 0 ] && [ -s "$base.json" ]; then
	echo "serve-bench.sh: $base.json exists (a finished cell; --force runs it again)" >&2
	trap - EXIT
	rm -rf "$tmp"
	summarise
	exit 0
fi
load0=$(cut -d' ' -f1 /proc/loadavg)
binsum=$(sha256sum "$bin" | cut -d' ' -f1)

# 1. The model owner's plaintext labels (float, and the fixed-point executor's).
"$bin" eval --model "$model" "${range[@]}" --predictions --fixed-point --frac "$frac" --json > "$base.eval.json" 2> "$base.eval.log" ||
	die "eval failed: $(tail -1 "$base.eval.log")"

# 2. Dealer (dealer suite) and server, each its own process and key, TLS
# with fresh certificates.
"$bin" dealer --gen-cert "$tmp/server" 2> /dev/null
cert="$tmp/server/cert.pem"
# wait_listen LOG PID: the address of the "listening on ADDR" line.
wait_listen() {
	local log=$1 pid=$2 addr
	for _ in $(seq 600); do
		addr=$(sed -n 's/.*listening on \([^ ,]*\).*/\1/p' "$log" 2> /dev/null | head -1)
		if [ -n "$addr" ]; then echo "$addr"; return 0; fi
		kill -0 "$pid" 2> /dev/null || { echo "serve-bench.sh: process $pid exited: $(tail -3 "$log")" >&2; return 1; }
		sleep 0.1
	done
	echo "serve-bench.sh: no 'listening on' line in $log after 60 s" >&2
	return 1
}
dpid=
suiteargs=(--suite "$suite")
# All N images run in one session: raise serve's per-session limit if needed.
[ "$n" -le 1000 ] || suiteargs+=(--max-inferences "$n")
dealerargs=()
if [ "$suite" = dealer ]; then
	"$bin" dealer --gen-cert "$tmp/dealer" 2> /dev/null
	dcert="$tmp/dealer/cert.pem"
	"$bin" dealer --listen 127.0.0.1:0 --tls-cert "$dcert" --tls-key "$tmp/dealer/key.pem" "${emu[@]}" --timeout "$timeout" \
		--quiet 2> "$base.dealer.log" &
	dpid=$!
	pids+=("$dpid")
	daddr=$(wait_listen "$base.dealer.log" "$dpid")
	# The server verifies the dealer with the dealer's certificate; so does
	# the client, which pins the dealer's address.
	suiteargs+=(--dealer "$daddr" --pool "$spool" --tls-ca "$dcert")
	dealerargs=(--dealer "$daddr" --dealer-ca "$dcert")
fi
"$bin" serve --model "$model" --frac "$frac" --ell "$ell" --pbits "$pbits" --listen 127.0.0.1:0 "${suiteargs[@]}" \
	--tls-cert "$cert" --tls-key "$tmp/server/key.pem" "${emu[@]}" --timeout "$timeout" --quiet 2> "$base.serve.log" &
spid=$!
pids+=("$spid")
saddr=$(wait_listen "$base.serve.log" "$spid")

# 3. The client.
timecmd=()
if [ -x /usr/bin/time ]; then
	timecmd=(/usr/bin/time -f "%M %U %S" -o "$tmp/infer.time")
else
	echo "serve-bench: no /usr/bin/time (Debian package time, scripts/install-deps.sh): the client's peak RSS and CPU are not reported" >&2
fi
t0=$(date +%s.%N)
if ! "${timecmd[@]}" "$bin" infer --server "$saddr" --tls-ca "$cert" --suite "$suite" "${dealerargs[@]}" "${range[@]}" --pool "$cpool" \
	"${emu[@]}" --timeout "$timeout" --json > "$base.infer.json" 2> "$base.infer.log"; then
	die "infer failed: $(tail -2 "$base.infer.log")"
fi
t1=$(date +%s.%N)
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2> /dev/null || true; }
# cpu PID: user+system CPU seconds of a running process (fields 14, 15 of
# /proc/PID/stat, after the parenthesised command name).
cpu() {
	local stat
	stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 0
	echo "${stat##*) }" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / hz }'
}
dealer_kb=
dealer_cpu=
if [ -n "$dpid" ]; then
	dealer_kb=$(hwm "$dpid")
	dealer_cpu=$(cpu "$dpid")
fi
server_kb=$(hwm "$spid")
server_cpu=$(cpu "$spid")
read -r client_kb client_user client_sys < "$tmp/infer.time" 2> /dev/null || true
client_cpu=$(awk -v u="${client_user:-0}" -v s="${client_sys:-0}" 'BEGIN { printf "%.2f", u + s }')
kill -TERM "${pids[@]}" 2> /dev/null || true
wait "${pids[@]}" 2> /dev/null || true
pids=()

# 4. Summary.
load1=$(cut -d' ' -f1 /proc/loadavg)
summarise "$label" "$link" "$model" "$dataset" "$index" "$stride" "${dealer_kb:-0}" "${server_kb:-0}" "${client_kb:-0}" "$t0" "$t1" \
	"${dealer_cpu:-}" "${server_cpu:-}" "${client_cpu:-}" "$load0" "$load1" "$binsum"
